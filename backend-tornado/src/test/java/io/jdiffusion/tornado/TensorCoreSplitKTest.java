package io.jdiffusion.tornado;

import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.Padding;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.backend.testing.ConformanceCase;
import io.jdiffusion.backend.testing.ConformanceCases;
import io.jdiffusion.backend.testing.Tolerances;
import io.jdiffusion.core.DType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Tensor-core products split along K ({@link SplitK}) against backend-cpu: with every product forced into three parts
 * (the last one shorter where K is not a multiple), a Linear with and without bias, activation, GEGLU and residual,
 * and convolutions over two images, strided and 1x1; then a deep product left to the backend's own choice. Each
 * case must have compiled split. Runs where F16 products go to the Java tensor-core GEMM: the PTX backend, and the CUDA
 * backend without the NVIDIA libraries, where the GEMM copies its weight tiles with cp.async.
 */
class TensorCoreSplitKTest extends TornadoBesideCpu {
    private static final Tolerances F16_AGAINST_CPU = TornadoF16ConformanceTest.F16_AGAINST_CPU;

    @BeforeAll
    void onlyOnTensorCores() {
        assumeTrue(TornadoDevices.runsJavaTensorCores(((TornadoBackend) tornado).device()),
                "F16 products run on the Java tensor-core GEMM on the PTX backend, or on the CUDA backend without the NVIDIA libraries; the device is neither");
    }

    private static List<ConformanceCase> forcedCases() {
        return List.of(
                new ConformanceCase("linear 2x77x768 -> 320 +bias (the text encoder's K)", Tolerances.Accuracy.DIRECT,
                        b -> new Value[]{ConformanceCases.linear(b, DType.F32, true, Activation.NONE, false, 320, 2, 77, 768)}),
                new ConformanceCase("linear 1x150x200 -> 300 gelu +residual (K of 7 steps: parts of 3, 3, 1)", Tolerances.Accuracy.DIRECT,
                        b -> new Value[]{ConformanceCases.linear(b, DType.F32, true, Activation.GELU, true, 300, 1, 150, 200)}),
                new ConformanceCase("linear 2x19x520 -> geglu 160 +residual", Tolerances.Accuracy.DIRECT,
                        b -> new Value[]{ConformanceCases.linear(b, DType.F32, true, Activation.GEGLU, true, 320, 2, 19, 520)}),
                new ConformanceCase("linear 1x9x96 -> 40 no bias", Tolerances.Accuracy.DIRECT,
                        b -> new Value[]{ConformanceCases.linear(b, DType.F32, false, Activation.NONE, false, 40, 1, 9, 96)}),
                new ConformanceCase("conv3x3 2x128x8x8 -> 160 +bias +residual (two images, two row blocks)", Tolerances.Accuracy.DIRECT,
                        b -> new Value[]{ConformanceCases.conv(b, DType.F32, 2, 128, 8, 8, 160, 3, 3, 1, Padding.same(1), true, true)}),
                new ConformanceCase("conv3x3 s2 2x13x11x9 -> 7 (K 117 padded to 128: parts of 64)", Tolerances.Accuracy.DIRECT,
                        b -> new Value[]{ConformanceCases.conv(b, DType.F32, 2, 13, 11, 9, 7, 3, 3, 2, Padding.same(1), true, false)}),
                new ConformanceCase("conv1x1 3x96x5x7 -> 40 +residual", Tolerances.Accuracy.DIRECT,
                        b -> new Value[]{ConformanceCases.conv(b, DType.F32, 3, 96, 5, 7, 40, 1, 1, 1, Padding.same(0), false, true)}));
    }

    @TestFactory
    Stream<DynamicTest> productsForcedIntoThreePartsOfKMatchTheCpu() {
        return forcedCases().stream().map(c -> DynamicTest.dynamicTest("split 3: " + c.name(), () -> {
            try (TemporaryProperties p = TemporaryProperties.set(TornadoSettings.SPLIT_K, "3")) {
                checkSplit(c);
            }
        }));
    }

    /** The 8x8 level's deep product at a smaller width, split as the backend chooses. */
    @TestFactory
    Stream<DynamicTest> aDeepFewTileConvolutionSplitByChoiceMatchesTheCpu() {
        ConformanceCase c = new ConformanceCase("conv3x3 2x640x8x8 -> 256 +bias +residual (chosen split)", Tolerances.Accuracy.DIRECT,
                b -> new Value[]{ConformanceCases.conv(b, DType.F32, 2, 640, 8, 8, 256, 3, 3, 1, Padding.same(1), true, true)});
        return Stream.of(DynamicTest.dynamicTest(c.name(), () -> checkSplit(c)));
    }

    private void checkSplit(ConformanceCase c) {
        long before = TensorCorePath.splitProducts();
        checkTwoRuns(c, Precision.F16, F16_AGAINST_CPU.of(c.accuracy()), true, "split-k", anyRoute());
        assertThat(TensorCorePath.splitProducts() - before).as("%s compiled split along K", c.name()).isPositive();
    }
}
