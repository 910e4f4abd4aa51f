package io.jdiffusion.tornado;

import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Padding;
import io.jdiffusion.core.Shape;
import io.jdiffusion.tornado.nvidia.LtMatmul;

/**
 * A 1x1, stride-1, unpadded NCHW convolution as one cuBLASLt product on the operands' own storage: for each image b,
 * y[b] [cout, pixels] = w [cout, cin] x[b] [cin, pixels], every matrix row-major ({@link LtMatmul.Order#ROW}), the
 * images a strided batch sharing the weight, and the residual as C with beta = 1. The bias follows as one in-place
 * pass ({@code LibraryStaging.biasResidual}): cuBLASLt's heuristic offers no algorithm for its bias epilogue on
 * row-major matrices (CUDA 13 on an H100, 2026-12-05), and in column order the bias would run along the columns,
 * which the epilogue cannot do either. No staging and no transposes: cuDNN runs these layers as NHWC implicit GEMMs,
 * which on NCHW operands transpose x, the filter and y through its workspace at every call, or on its SIMT kernel
 * (docs/PERFORMANCE.md measures both).
 *
 * <p>{@link LibraryProducts} takes this route where every operand is stored in the product's element type (the F16
 * arena of an F16 executable; any float buffer of an F32 one) and the bias, if any, is a constant; the others stay
 * on cuDNN, which stages them.
 */
final class PointwiseConvolution {
    private PointwiseConvolution() {
    }

    /** Whether {@code c} is a dense 1x1 convolution with stride 1 and no padding over NCHW tensors. */
    static boolean isPointwise(Op.Conv2d c) {
        Shape xs = c.x().shape();
        Shape ws = c.weight().shape();
        Shape os = c.out().shape();
        Padding p = c.padding();
        return xs.rank() == 4 && ws.rank() == 4 && os.rank() == 4 && ws.size(2) == 1 && ws.size(3) == 1 && ws.size(1) == xs.size(1)
                && c.stride() == 1 && p.top() == 0 && p.bottom() == 0 && p.left() == 0 && p.right() == 0
                && os.size(0) == xs.size(0) && os.size(1) == ws.size(0) && os.size(2) == xs.size(2) && os.size(3) == xs.size(3);
    }

    /**
     * The product of {@code c} without its bias: parameters {@code workspace}, {@code weight}, {@code x}, {@code out}
     * and {@code residual} (-1: none), with x's, y's and the residual's element offsets there.
     */
    static LtMatmul product(Op.Conv2d c, LtMatmul.ElementType type, int workspace, int weight, int x, long xOffset, int out, long outOffset,
                            int residual, long residualOffset) {
        Shape xs = c.x().shape();
        int images = xs.size(0);
        int cin = xs.size(1);
        int pixels = xs.size(2) * xs.size(3);
        int cout = c.out().shape().size(1);
        LtMatmul.Batch batch = new LtMatmul.Batch(images, 0, (long) cin * pixels, (long) cout * pixels);
        return new LtMatmul(type, type, LtMatmul.Order.ROW, cout, pixels, cin, false, false, cin, pixels, pixels, batch,
                new LtMatmul.Operand(weight, 0), new LtMatmul.Operand(x, xOffset),
                residual < 0 ? null : new LtMatmul.Operand(residual, residualOffset), new LtMatmul.Operand(out, outOffset), null, workspace);
    }
}
