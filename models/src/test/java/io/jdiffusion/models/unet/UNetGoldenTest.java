package io.jdiffusion.models.unet;

import io.jdiffusion.backend.HostRunner;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.testsupport.Golden;
import io.jdiffusion.models.testsupport.TinyModelFixture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The tiny UNet against diffusers' UNet2DConditionModel, output and every block (golden cases unet_a, unet_b). */
class UNetGoldenTest {
    private static TinyModelFixture fixture;

    @BeforeAll
    static void load() {
        fixture = TinyModelFixture.open("unet.safetensors");
    }

    @AfterAll
    static void close() {
        fixture.close();
    }

    @Test
    void caseAMatchesDiffusersBlockByBlock() {
        UNet2DConditionModel unet = fixture.model.unet();
        List<String> taps = unet.tapNames();
        assertThat(taps).containsExactly("time_proj", "time_embedding", "conv_in", "down_blocks.0", "down_blocks.1",
                "mid_block", "up_blocks.0", "up_blocks.1", "conv_norm_out", "conv_out");
        Graph g = unet.graph(new UNetCall(2, 16, 16, 77), taps);
        // scalar int64 t = 981, broadcast to the batch as the pipeline does
        long t = fixture.golden.tensor("a.timestep").getLong(0);
        assertThat(t).isEqualTo(981);
        try (Tensor timestep = Tensor.ofFloats(Shape.of(2), t, t)) {
            List<Tensor> out = HostRunner.run(fixture.cpu, g, List.of(fixture.golden.tensor("a.sample"), timestep,
                    fixture.golden.tensor("a.encoder_hidden_states")));
            Golden.check("unet_a noise_pred", out.getFirst(), fixture.golden.tensor("a.noise_pred"));
            for (int i = 0; i < taps.size(); i++) {
                Golden.check("unet_a after." + taps.get(i), out.get(1 + i), fixture.golden.tensor("a.after." + taps.get(i)));
            }
            out.forEach(Tensor::close);
        }
    }

    @Test
    void caseBTakesFractionalPerSampleTimesteps() {
        Tensor timestep = fixture.golden.tensor("b.timestep");
        assertThat(timestep.toFloatArray()).containsExactly(946.42105f, 1.0f);
        Graph g = fixture.model.unet().graph(new UNetCall(2, 8, 8, 77));
        List<Tensor> out = HostRunner.run(fixture.cpu, g, List.of(fixture.golden.tensor("b.sample"), timestep,
                fixture.golden.tensor("b.encoder_hidden_states")));
        Golden.check("unet_b noise_pred", out.getFirst(), fixture.golden.tensor("b.noise_pred"));
        out.forEach(Tensor::close);
    }

    @Test
    void describesItselfFromTheConfig() {
        UNet2DConditionModel unet = fixture.model.unet();
        assertThat(unet.inChannels()).isEqualTo(4);
        assertThat(unet.outChannels()).isEqualTo(4);
        assertThat(unet.sampleSize()).isEqualTo(32);
        assertThat(unet.crossAttentionDim()).isEqualTo(32);
        assertThat(unet.predictionType()).isEqualTo("epsilon");
        Graph g = unet.graph(new UNetCall(1, 8, 8, 77));
        assertThat(g.inputs()).extracting(v -> v.name()).containsExactly("sample", "timestep", "encoder_hidden_states");
        // the conditioning stays the same through a denoising loop; the latents and the timestep change per call
        assertThat(g.steadyInputs()).extracting(v -> v.name()).containsExactly("encoder_hidden_states");
        assertThat(Arrays.stream(g.outputs().getFirst().shape().dims()).boxed().toList()).containsExactly(1L, 4L, 8L, 8L);
        assertThat(g.constants()).hasSize(304); // every one of the 304 stored tensors once
    }
}
