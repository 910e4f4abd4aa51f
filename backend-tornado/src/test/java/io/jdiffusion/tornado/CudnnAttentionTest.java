package io.jdiffusion.tornado;

import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.testing.ConformanceCase;
import io.jdiffusion.tornado.nvidia.CudnnAttentionProvider;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * F16 attention on cuDNN's graph API with its operands in place ({@link CudnnAttentionProvider},
 * {@link TornadoSettings#CUDNN_ATTENTION_GRAPH}) against backend-cpu, on TornadoVM's CUDA backend with the NVIDIA
 * libraries (skipped elsewhere, with the reason): SD 1.5's self- and cross-attention head sizes (40, 80, 160), key
 * counts that are not multiples of anything (77, 9), batch 1 and 2; staged, so Q, K, V and O lie in the F16 arena at
 * the offsets a network gives them; outputs NaN-poisoned before each of two runs (the second a CUDA-graph replay).
 * Every case must dispatch the provider, except the causal one, which stays on TornadoVM's binding (cuDNN's single
 * SDPA operation takes masks from cuDNN 9.21 only) and must still match.
 */
class CudnnAttentionTest extends TornadoBesideCpu {
    /** The in-place route for the class's cases, put back as it was after them. */
    private TemporaryProperties inPlace;

    @BeforeAll
    void onlyWhereAttentionRunsOnCudnn() {
        assumeTrue(TornadoDevices.usesLibraries(((TornadoBackend) tornado).device()),
                "cuDNN attention runs on TornadoVM's CUDA backend with the NVIDIA libraries loaded; the device is not one");
        inPlace = TemporaryProperties.set(TornadoSettings.CUDNN_ATTENTION_GRAPH, "true");
    }

    @AfterAll
    void settingBackToItsDefault() {
        if (inPlace != null) {
            inPlace.close();
        }
        CudnnAttentionProvider.plansMade().forEach(p -> System.out.println("cudnn attention plan " + p));
    }

    static List<ConformanceCase> cases() {
        return List.of(
                TornadoConformanceTest.attention("self 2x1024, 8 heads of 40 (UNet 32x32 level at 256)", 2, 1024, 1024, 8, 40, false),
                TornadoConformanceTest.attention("cross 2x256 x 77, 8 heads of 80", 2, 256, 77, 8, 80, false),
                TornadoConformanceTest.attention("self 2x64, 8 heads of 160", 2, 64, 64, 8, 160, false),
                TornadoConformanceTest.attention("cross 1x100 x 9, 2 heads of 8 (odd sizes)", 1, 100, 9, 2, 8, false),
                TornadoConformanceTest.attention("causal 2x77, 12 heads of 64 (text encoder: TornadoVM's binding)", 2, 77, 77, 12, 64, true));
    }

    @TestFactory
    Stream<DynamicTest> f16AttentionMatchesTheCpu() {
        return cases().stream().map(c -> DynamicTest.dynamicTest("F16 " + c.name(), () -> checkTwoRuns(c, Precision.F16,
                TornadoF16ConformanceTest.F16_AGAINST_CPU.of(c.accuracy()), true, "cudnn attention", c.name().startsWith("causal")
                        ? anyRoute() : raises(CudnnAttentionProvider::dispatches, c.name() + ": cuDNN attention"))));
    }
}
