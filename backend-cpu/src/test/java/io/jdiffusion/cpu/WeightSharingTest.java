package io.jdiffusion.cpu;

import io.jdiffusion.backend.Executable;
import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Padding;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.backend.testing.TestRandom;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Packed weights are owned once per model: executables compiled from the same constant tensors share one
 * packing, which is freed with the last of them; weights are stored at their file precision (2 bytes for
 * F16 and BF16), and F32 weights at 2 bytes only when asked.
 */
class WeightSharingTest {
    private static final int K = 48, N = 40, COUT = 16, CIN = 8;

    /** A linear layer then a 3x3 convolution, at {@code rows} tokens, over the given weights. */
    private static Graph graph(int rows, Tensor linearWeight, Tensor convWeight) {
        GraphBuilder g = new GraphBuilder("shared");
        Value x = g.input("x", Shape.of(1, rows, K), DType.F32);
        Value y = g.linear(x, g.constant("w", linearWeight), null, Activation.NONE, null);
        Value img = g.reshape(y, 1, CIN, rows, N / CIN);
        g.output(g.conv2d(img, g.constant("cw", convWeight), null, null, 1, Padding.same(1)));
        return g.build();
    }

    private static long linearBytes(int bytesPerValue) {
        return bytesPerValue * Packing.sizeB(N, K, false);
    }

    private static long convBytes(int bytesPerValue) {
        return bytesPerValue * Packing.sizeA(COUT, CIN * 9);
    }

    @Test
    void twoShapesOfOneModelShareThePackedWeightsUntilTheLastExecutableCloses() {
        TestRandom random = TestRandom.fresh();
        try (Tensor w = random.normal(Shape.of(N, K), 0.2); Tensor cw = random.normal(Shape.of(COUT, CIN, 3, 3), 0.2);
             CpuBackend backend = new CpuBackend(2, ConvAlgorithm.IM2COL)) {
            long expected = linearBytes(4) + convBytes(4);
            Executable small = backend.compile(graph(8, w, cw));
            assertThat(backend.packedWeightBytes()).isEqualTo(expected);
            assertThat(backend.memoryBreakdown().get("weights")).isEqualTo(expected);
            long afterSmall = backend.deviceBytesInUse();
            Executable large = backend.compile(graph(40, w, cw));
            assertThat(backend.packings()).isEqualTo(2);
            assertThat(backend.packedWeightBytes()).as("the second shape adds no weights").isEqualTo(expected);
            assertThat(backend.deviceBytesInUse() - afterSmall).as("the second shape adds its arena and scratch only")
                    .isEqualTo(((CpuExecutable) large).arenaBytes() + ((CpuExecutable) large).workspaceBytes());
            small.close();
            assertThat(backend.packedWeightBytes()).isEqualTo(expected);
            large.close();
            assertThat(backend.packedWeightBytes()).isZero();
            assertThat(backend.packings()).isZero();
            assertThat(backend.deviceBytesInUse()).isZero();
        }
    }

    @Test
    void equalValuesInAnotherTensorArePackedSeparately() {
        // A LoRA-merged weight arrives as another tensor: the base model's packing must stay as it was.
        TestRandom random = TestRandom.fresh();
        try (Tensor w = random.normal(Shape.of(N, K), 0.2); Tensor merged = w.to(DType.F32);
             Tensor cw = random.normal(Shape.of(COUT, CIN, 3, 3), 0.2);
             CpuBackend backend = new CpuBackend(2, ConvAlgorithm.IM2COL);
             Executable base = backend.compile(graph(8, w, cw));
             Executable other = backend.compile(graph(8, merged, cw))) {
            assertThat(backend.packings()).isEqualTo(3);
            assertThat(backend.packedWeightBytes()).isEqualTo(2 * linearBytes(4) + convBytes(4));
        }
    }

    @Test
    void halfPrecisionCheckpointsStayTwoBytesPerWeight() {
        TestRandom random = TestRandom.fresh();
        try (Tensor w = random.normal(Shape.of(N, K), 0.2).to(DType.F16);
             Tensor cw = random.normal(Shape.of(COUT, CIN, 3, 3), 0.2).to(DType.BF16);
             CpuBackend backend = new CpuBackend(2, ConvAlgorithm.IM2COL);
             Executable exe = backend.compile(graph(8, w, cw))) {
            assertThat(backend.packedWeightBytes()).isEqualTo(linearBytes(2) + convBytes(2));
            assertThat(backend.memoryBreakdown().get("weights_2byte")).isEqualTo(linearBytes(2) + convBytes(2));
            assertThat(backend.weightNarrowingError()).isZero();
        }
    }

    @Test
    void f32WeightsArePackedAsF16OnlyWhenAskedAndTheAddedErrorIsReported() {
        TestRandom random = TestRandom.fresh();
        KernelOptions f16 = new KernelOptions(ConvAlgorithm.IM2COL, WinogradConv.CHUNK_FLOATS, 0, true);
        try (Tensor w = random.normal(Shape.of(N, K), 0.2); Tensor cw = random.normal(Shape.of(COUT, CIN, 3, 3), 0.2);
             CpuBackend plain = new CpuBackend(2, ConvAlgorithm.IM2COL); CpuBackend narrowing = new CpuBackend(2, f16);
             Executable a = plain.compile(graph(8, w, cw)); Executable b = narrowing.compile(graph(8, w, cw))) {
            assertThat(plain.packedWeightBytes()).isEqualTo(linearBytes(4) + convBytes(4));
            assertThat(plain.weightNarrowingError()).isZero();
            assertThat(narrowing.packedWeightBytes()).isEqualTo(linearBytes(2) + convBytes(2));
            // F16 keeps 11 significant bits: the relative rounding of normal values is at most 2^-11, about 3e-4 RMS.
            assertThat(narrowing.weightNarrowingError()).isBetween(1e-5, 4.9e-4);
        }
    }

    @Test
    void aDerivedWeightLimitKeepsTheWinogradFiltersOfNetworksCompiledAfterItWithinIt() {
        TestRandom random = TestRandom.fresh();
        // 128 x 5 output pixels: 64 Winograd tiles, enough for the layer to qualify
        try (Tensor w = random.normal(Shape.of(N, K), 0.2); Tensor cw = random.normal(Shape.of(COUT, CIN, 3, 3), 0.2);
             CpuBackend backend = new CpuBackend(2, new KernelOptions(ConvAlgorithm.AUTO, WinogradConv.CHUNK_FLOATS, 1L << 30, false))) {
            try (Executable unlimited = backend.compile(graph(128, w, cw))) {
                assertThat(backend.memoryBreakdown().get("weights_winograd")).isPositive();
            }
            backend.limitDerivedWeightBytes(0);
            try (Executable limited = backend.compile(graph(128, w, cw))) {
                assertThat(backend.memoryBreakdown().get("weights_winograd")).isZero();
                assertThat(backend.packedWeightBytes()).as("the layer transforms its filters as it runs, from its weights stored once")
                        .isEqualTo(linearBytes(4) + 4L * WinogradFilterStream.tapMajorSize(COUT, CIN));
            }
            assertThatThrownBy(() -> backend.limitDerivedWeightBytes(-1)).isInstanceOf(IllegalArgumentException.class);
        }
    }
}
