package io.jdiffusion.models.clip;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import io.jdiffusion.backend.HostRunner;
import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.config.ClipTextConfig;
import io.jdiffusion.models.config.ConfigJson;
import io.jdiffusion.models.config.ModelLoadException;
import io.jdiffusion.models.weights.RandomWeights;
import io.jdiffusion.testdata.TinySd;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** SD 2.x's use of the penultimate layer, as a config option of the one encoder. */
class ClipSkipLayersTest {
    @Test
    void skippingTheLastLayerEqualsAModelWithoutIt() {
        ClipTextConfig base = ClipTextConfig.fromJson(ConfigJson.read(TinySd.modelDir().resolve("text_encoder/config.json")));
        ClipTextConfig gelu = new ClipTextConfig(base.vocabSize(), base.hiddenSize(), 3, base.numHeads(),
                base.intermediateSize(), Activation.GELU, base.layerNormEps(), base.maxPositions(), 0, 0);
        // random weights are drawn per name: both encoders get the same first three layers
        try (RandomWeights w = new RandomWeights(11, DType.F32); Backend cpu = Backends.create("cpu");
             Tensor ids = Tensor.ofLongs(Shape.of(1, 77), java.util.stream.LongStream.range(0, 77).map(i -> (i * 37) % 1000).toArray())) {
            ClipTextEncoder three = ClipTextEncoder.load(gelu, w, "test");
            ClipTextEncoder fourSkipOne = ClipTextEncoder.load(gelu.withNumLayers(4).withSkipLastLayers(1), w, "test");
            assertThat(fourSkipOne.parameters()).hasSize(three.parameters().size() + 16);
            assertThat(fourSkipOne.graph(1).ops()).hasSameSizeAs(three.graph(1).ops());
            Tensor a = HostRunner.run(cpu, three.graph(1), List.of(ids)).getFirst();
            Tensor b = HostRunner.run(cpu, fourSkipOne.graph(1), List.of(ids)).getFirst();
            // bit equality holds: both graphs run the same kernels on the same values, and the CPU backend gives the
            // same bits for the same inputs whatever the pool load or JIT tier (CpuDeterminismTest)
            assertThat(b.toFloatArray()).containsExactly(a.toFloatArray());
            assertThat(io.jdiffusion.core.Numerics.relativeL2(a.toFloatArray(), a.toFloatArray())).isZero(); // finite: NaN/Inf give +inf
        }
    }

    @Test
    void skipMustLeaveALayer() {
        ClipTextConfig base = ClipTextConfig.fromJson(ConfigJson.read(TinySd.modelDir().resolve("text_encoder/config.json")));
        assertThatThrownBy(() -> base.withSkipLastLayers(5)).isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("cannot skip 5 of 5 layers");
    }
}
