package io.jdiffusion.models.clip;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import io.jdiffusion.backend.HostRunner;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.core.safetensors.SafetensorsFile;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.models.testsupport.Golden;
import io.jdiffusion.testdata.TinySd;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The tiny CLIP text tower against transformers' CLIPTextModel (golden case {@code text_encoder}). */
class ClipTextEncoderGoldenTest {
    @Test
    void everyHiddenStateMatchesTransformers() {
        try (StableDiffusion sd = StableDiffusion.load(TinySd.modelDir(), null);
             SafetensorsFile golden = TinySd.golden("text_encoder.safetensors");
             Backend cpu = Backends.create("cpu")) {
            ClipTextEncoder te = sd.textEncoder();
            assertThat(te.hiddenSize()).isEqualTo(32);
            assertThat(te.maxPositions()).isEqualTo(77);
            Graph g = te.graph(3, true);
            List<Tensor> out = HostRunner.run(cpu, g, List.of(golden.tensor("te.input_ids")));
            assertThat(out).hasSize(1 + 6);
            Golden.check("text_encoder last_hidden_state", out.getFirst(), golden.tensor("te.last_hidden_state"));
            Tensor hidden = golden.tensor("te.hidden_states");
            for (int i = 0; i < 6; i++) {
                Golden.check("text_encoder hidden_states[" + i + "]", out.get(1 + i),
                        hidden.slice(i, i + 1).reshape(3, 77, 32));
            }
            out.forEach(Tensor::close);
        }
    }

    @Test
    void mainGraphHasOneOutputOfTheHiddenStatesSdUses() {
        try (StableDiffusion sd = StableDiffusion.load(TinySd.modelDir(), null)) {
            Graph g = sd.textEncoder().graph(2);
            assertThat(g.inputs()).singleElement().satisfies(v -> {
                assertThat(v.name()).isEqualTo("input_ids");
                assertThat(v.shape().dims()).containsExactly(2, 77);
            });
            assertThat(g.outputs()).singleElement().satisfies(v -> assertThat(v.shape().dims()).containsExactly(2, 77, 32));
            // every one of the 84 stored tensors is one graph constant
            assertThat(g.constants()).hasSize(84);
        }
    }
}
