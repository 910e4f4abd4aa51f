package io.jdiffusion.tornado;

import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Padding;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.tornado.kernels.KernelMath;
import io.jdiffusion.tornado.kernels.TensorCoreKernels;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Host-side: the {@link TensorCoreKernels} descriptors {@link TensorCorePath} writes for a layer, field by field (no
 * TornadoVM runtime, no GPU; the F16 conformance suite runs them on PTX).
 */
class TensorCoreDescriptorTest {
    /** An H100's multiprocessors. */
    private static final int MULTIPROCESSORS = 132;

    @Test
    void aGegluLinearTakesItsValueAndGateColumnsAndItsActivation() {
        try (Tensor w = Tensor.allocate(Shape.of(2560, 320), DType.F32)) {
            GraphBuilder g = new GraphBuilder("linear");
            Value x = g.input("x", Shape.of(2, 300, 320), DType.F32);
            g.output(g.linear(x, g.constant("w", w), null, Activation.GEGLU, null));
            Op op = g.build().ops().getLast();
            int[] d = descriptor(op);
            assertThat(d[TensorCoreKernels.ROWS]).isEqualTo(600);
            assertThat(d[TensorCoreKernels.COLS]).isEqualTo(2560);
            assertThat(d[TensorCoreKernels.K_TOTAL]).isEqualTo(320);
            assertThat(d[TensorCoreKernels.K_PADDED]).isEqualTo(320);
            assertThat(d[TensorCoreKernels.W_STRIDE]).as("value and gate halves, each padded").isEqualTo(2560);
            assertThat(d[TensorCoreKernels.HALF_PADDED]).isEqualTo(1280);
            assertThat(d[TensorCoreKernels.ACT]).isEqualTo(KernelMath.ACT_GEGLU);
            assertThat(d[TensorCoreKernels.ROW_BLOCKS]).isEqualTo(5);
            assertThat(d[TensorCoreKernels.COL_BLOCKS]).as("64 value columns a work-group").isEqualTo(20);
            assertThat(d[TensorCoreKernels.BATCH]).isEqualTo(1);
            assertThat(d[TensorCoreKernels.SPLITS]).as("10 steps of K: too few to split").isEqualTo(1);
            assertThat(d[TensorCoreKernels.K_CHUNK]).isEqualTo(320);
            assertThat(d[TensorCoreKernels.A_STRIDE]).as("x's rows packed").isEqualTo(320);
            assertThat(new int[]{d[TensorCoreKernels.A_IMAGE], d[TensorCoreKernels.W_IMAGE], d[TensorCoreKernels.OUT_IMAGE]})
                    .as("one image").containsOnly(0);
        }
    }

    @Test
    void aConvolutionTakesItsGeometryAndASplitOfItsDeepK() {
        try (Tensor w = Tensor.allocate(Shape.of(640, 320, 3, 3), DType.F32)) {
            GraphBuilder g = new GraphBuilder("conv");
            Value x = g.input("x", Shape.of(2, 320, 16, 16), DType.F32);
            g.output(g.conv2d(x, g.constant("w", w), null, null, 1, Padding.same(1)));
            Op op = g.build().ops().getLast();
            int[] d = descriptor(op);
            assertThat(d[TensorCoreKernels.ROWS]).isEqualTo(640);
            assertThat(d[TensorCoreKernels.COLS]).isEqualTo(256);
            assertThat(d[TensorCoreKernels.K_TOTAL]).isEqualTo(2880);
            assertThat(d[TensorCoreKernels.K_PADDED]).isEqualTo(2880);
            assertThat(d[TensorCoreKernels.W_STRIDE]).isEqualTo(2880);
            assertThat(d[TensorCoreKernels.CIN]).isEqualTo(320);
            assertThat(d[TensorCoreKernels.IN_H]).isEqualTo(16);
            assertThat(d[TensorCoreKernels.IN_W]).isEqualTo(16);
            assertThat(d[TensorCoreKernels.OUT_W]).isEqualTo(16);
            assertThat(d[TensorCoreKernels.GEOM]).isEqualTo(3 | 3 << 8 | 1 << 16);
            assertThat(d[TensorCoreKernels.PADS]).isEqualTo(1 | 1 << 16);
            assertThat(d[TensorCoreKernels.ACT]).isEqualTo(KernelMath.ACT_NONE);
            assertThat(new int[]{d[TensorCoreKernels.ROW_BLOCKS], d[TensorCoreKernels.COL_BLOCKS], d[TensorCoreKernels.BATCH]})
                    .containsExactly(5, 2, 2);
            // 20 tiles: eleven parts of 8 steps fit one wave of 264 work-groups; 90 steps in parts of 9 make 10
            assertThat(d[TensorCoreKernels.SPLITS]).isEqualTo(10);
            assertThat(d[TensorCoreKernels.K_CHUNK]).isEqualTo(288);
            assertThat(new int[]{d[TensorCoreKernels.A_IMAGE], d[TensorCoreKernels.W_IMAGE], d[TensorCoreKernels.OUT_IMAGE]})
                    .as("a convolution's images are x's, not offsets of A or B").containsOnly(0);
        }
    }

    @Test
    void aConvolutionsIm2colTableGivesEachKRowsInputOffsetAndTapAndNoTapPastK() {
        try (Tensor w = Tensor.allocate(Shape.of(8, 5, 3, 3), DType.F32)) {
            GraphBuilder g = new GraphBuilder("conv");
            Value x = g.input("x", Shape.of(1, 5, 7, 6), DType.F32);
            g.output(g.conv2d(x, g.constant("w", w), null, null, 2, Padding.same(1)));
            int[] d = descriptor(g.build().ops().getLast());
            int kTotal = 45;
            int kPadded = 64;
            assertThat(d[TensorCoreKernels.K_PADDED]).isEqualTo(kPadded);
            assertThat(d).as("the fields, then two entries per k row up to K padded plus the step loaded ahead")
                    .hasSize(TensorCoreKernels.FIELDS + 2 * (kPadded + TensorCoreKernels.BLOCK_K));
            for (int k = 0; k < kPadded + TensorCoreKernels.BLOCK_K; k++) {
                int offset = d[TensorCoreKernels.FIELDS + 2 * k];
                int tap = d[TensorCoreKernels.FIELDS + 2 * k + 1];
                if (k < kTotal) {
                    int channel = k / 9;
                    int ky = k % 9 / 3;
                    int kx = k % 3;
                    assertThat(offset).as("offset of k row %d", k).isEqualTo(channel * 42 + ky * 6 + kx);
                    assertThat(tap).as("tap of k row %d", k).isEqualTo(ky * 3 + kx);
                } else {
                    assertThat(tap).as("tap of k row %d, past K", k).isEqualTo(TensorCoreKernels.NO_TAP);
                }
            }
        }
    }

    @Test
    void aConvolutionOfMoreTapsThanAWindowMaskHoldsIsLeftToAnotherPath() {
        try (Tensor w = Tensor.allocate(Shape.of(8, 3, 7, 7), DType.F32)) {
            GraphBuilder g = new GraphBuilder("conv");
            Value x = g.input("x", Shape.of(1, 3, 16, 16), DType.F32);
            g.output(g.conv2d(x, g.constant("w", w), null, null, 1, Padding.same(3)));
            Op op = g.build().ops().getLast();
            TensorCorePath path = path();
            assertThat(path.takeProduct(op)).isFalse();
            assertThat(path.handles(op)).isFalse();
        }
    }

    private static TensorCorePath path() {
        try (TemporaryProperties ignored = TemporaryProperties.set(TornadoSettings.SPLIT_K, "0")) {
            return new TensorCorePath("layer", MULTIPROCESSORS, false);
        }
    }

    private static int[] descriptor(Op op) {
        TensorCorePath path = path();
        assertThat(path.takeProduct(op)).isTrue();
        return path.descriptor(op);
    }
}
