package io.jdiffusion.models.sdxl;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.HostRunner;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.core.safetensors.SafetensorsFile;
import io.jdiffusion.models.clip.ClipTextEncoder;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.models.testsupport.Golden;
import io.jdiffusion.models.testsupport.GoldenModel;
import io.jdiffusion.models.unet.UNet2DConditionModel;
import io.jdiffusion.models.unet.UNetCall;
import io.jdiffusion.models.vae.AutoencoderKL;
import io.jdiffusion.testdata.GoldenSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static io.jdiffusion.testdata.GoldenSet.tensor;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The SDXL-shaped tiny model's networks (tiny-sdxl) against diffusers and transformers: both text encoders'
 * penultimate hidden states and the second one's pooled projection, the UNet with text_time added
 * conditioning and two transformer layers per block (every block tapped), and the VAE.
 */
class SdxlNetworksGoldenTest {
    private static final GoldenSet SET = GoldenSet.TINY_SDXL;
    private static GoldenModel golden;
    private static StableDiffusion model;
    private static Backend cpu;

    @BeforeAll
    static void load() {
        golden = GoldenModel.open(SET);
        model = golden.model;
        cpu = golden.cpu;
    }

    @AfterAll
    static void close() {
        golden.close();
    }

    @Test
    void firstEncoderGivesThePenultimateHiddenStates() {
        JsonNode c = SET.goldenCase("text_encoder");
        ClipTextEncoder te = model.textEncoder();
        assertThat(te.projectionDim()).isZero();
        try (SafetensorsFile f = SET.golden("text_encoder.safetensors")) {
            Tensor hidden = tensor(f, c, "hidden_states");
            int layers = (int) hidden.shape().dim(0);
            List<Tensor> out = HostRunner.run(cpu, te.penultimateGraph(3, false), List.of(tensor(f, c, "input_ids")));
            assertThat(out).hasSize(1);
            Golden.check("sdxl text_encoder hidden_states[-2]", out.getFirst(),
                    hidden.slice(layers - 2, layers - 1).reshape(3, 77, 32), 1e-5);
            out.forEach(Tensor::close);
        }
    }

    @Test
    void secondEncoderGivesPenultimateHiddenStatesAndProjectedPooledEmbeds() {
        JsonNode c = SET.goldenCase("text_encoder_2");
        ClipTextEncoder te = model.textEncoder2();
        assertThat(te.projectionDim()).isEqualTo(40);
        try (SafetensorsFile f = SET.golden("text_encoder.safetensors")) {
            Tensor ids = tensor(f, c, "input_ids");
            long[] eos = ClipTextEncoder.poolingIndices(ids.toLongArray(), 3, 77);
            Tensor hidden = tensor(f, c, "hidden_states");
            int layers = (int) hidden.shape().dim(0);
            try (Tensor eosIndex = Tensor.ofLongs(Shape.of(3), eos)) {
                List<Tensor> out = HostRunner.run(cpu, te.penultimateGraph(3, true), List.of(ids, eosIndex));
                Golden.check("sdxl text_encoder_2 hidden_states[-2]", out.get(0),
                        hidden.slice(layers - 2, layers - 1).reshape(3, 77, 48), 1e-5);
                Golden.check("sdxl text_encoder_2 text_embeds", out.get(1), tensor(f, c, "text_embeds"), 1e-5);
                out.forEach(Tensor::close);
            }
        }
    }

    @Test
    void unetWithTextTimeConditioningBlockByBlock() {
        JsonNode c = SET.goldenCase("unet_a");
        UNet2DConditionModel unet = model.unet();
        assertThat(unet.config().hasTextTimeConditioning()).isTrue();
        assertThat(unet.config().pooledTextDim()).isEqualTo(40);
        List<String> taps = unet.tapNames();
        assertThat(taps).startsWith("time_proj", "time_embedding", "add_time_proj", "add_embedding", "conv_in");
        try (SafetensorsFile f = SET.golden("unet.safetensors");
             Tensor t = Tensor.ofFloats(Shape.of(2), 981, 981)) {
            golden.checkNetwork("sdxl unet_a", unet.graph(new UNetCall(2, 16, 16, 77), taps), List.of(tensor(f, c, "sample"), t,
                    tensor(f, c, "encoder_hidden_states"), tensor(f, c, "text_embeds"), tensor(f, c, "time_ids")),
                    "noise_pred", taps, role -> tensor(f, c, role), 1e-5);
        }
    }

    @Test
    void unetCaseBFractionalTimesteps() {
        JsonNode c = SET.goldenCase("unet_b");
        try (SafetensorsFile f = SET.golden("unet.safetensors")) {
            golden.checkNetwork("sdxl unet_b", model.unet().graph(new UNetCall(2, 8, 8, 77)), List.of(tensor(f, c, "sample"),
                    tensor(f, c, "timestep"), tensor(f, c, "encoder_hidden_states"), tensor(f, c, "text_embeds"),
                    tensor(f, c, "time_ids")), "noise_pred", List.of(), role -> tensor(f, c, role), 1e-5);
        }
    }

    @Test
    void vaeDecodeWithSdxlScaling() {
        JsonNode c = SET.goldenCase("vae_decode");
        AutoencoderKL vae = model.vae();
        assertThat(vae.scalingFactor()).isEqualTo(0.13025f);
        assertThat(vae.config().forceUpcast()).isTrue();
        List<String> taps = vae.decoderTapNames();
        try (SafetensorsFile f = SET.golden("vae.safetensors")) {
            golden.checkNetwork("sdxl vae_decode", vae.decoderGraph(1, 16, 16, taps), List.of(tensor(f, c, "z")),
                    "sample", taps, role -> tensor(f, c, role), 1e-5);
        }
    }
}
