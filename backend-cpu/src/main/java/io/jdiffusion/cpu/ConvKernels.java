package io.jdiffusion.cpu;

import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Padding;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Tensor;

import java.lang.foreign.MemorySegment;

import static io.jdiffusion.cpu.CpuVectors.FLOAT;
import static io.jdiffusion.cpu.Gemm.NR;

/**
 * Convolutions as GEMMs with the weights as the packed A operand [Cout, Cin*kh*kw] (packed once) and the
 * image as B: a 1x1 stride-1 convolution reads the image rows directly; any other kernel packs im2col
 * panels straight from the image (no im2col matrix is materialised). Bias and residual are fused into
 * the output write.
 */
final class ConvKernels {
    private ConvKernels() {
    }

    /** Shapes of one convolution, for kernels and benchmarks. */
    record Geometry(int batch, int cin, int h, int w, int cout, int kh, int kw, int stride, Padding pad, int ho, int wo) {
        static Geometry of(Op.Conv2d op) {
            var xs = op.x().shape();
            var ws = op.weight().shape();
            var os = op.out().shape();
            return new Geometry(xs.size(0), xs.size(1), xs.size(2), xs.size(3), ws.size(0), ws.size(2), ws.size(3),
                    op.stride(), op.padding(), os.size(2), os.size(3));
        }

        boolean pointwise() {
            return kh == 1 && kw == 1 && stride == 1 && pad.top() == 0 && pad.bottom() == 0 && pad.left() == 0 && pad.right() == 0;
        }

        int depth() {
            return cin * kh * kw;
        }
    }

    static Kernel compile(Op.Conv2d op, CompileContext ctx) {
        Geometry g = Geometry.of(op);
        return im2col(op, g, ctx);
    }

    /** The im2col (or direct 1x1) GEMM path; works for every kernel size, stride and padding. */
    static Kernel im2col(Op.Conv2d op, Geometry g, CompileContext ctx) {
        int depth = g.depth();
        float[] fixedWeights = null;
        if (op.weight().kind() == Value.Kind.CONSTANT) {
            fixedWeights = Packing.packAFromWeights(op.weight().constant(), g.cout(), depth);
            ctx.countOwned(4L * fixedWeights.length);
        }
        final float[] packedWeights = fixedWeights;
        int x = op.x().id(), w = op.weight().id(), out = op.out().id();
        int bias = op.bias() == null ? -1 : op.bias().id();
        int residual = op.residual() == null ? -1 : op.residual().id();
        WorkerPool pool = ctx.pool;
        Workspace ws = ctx.workspace;
        int pixels = g.ho() * g.wo();
        int panels = Gemm.panelsB(pixels);
        return buffers -> {
            float[] a = packedWeights != null ? packedWeights
                    : Packing.packAFromWeights(Tensor.view(buffers[w], op.weight().shape(), DType.F32), g.cout(), depth);
            float[] b = ws.get(Workspace.Slot.PACK_B, (long) panels * depth * NR);
            MemorySegment biasSeg = bias < 0 ? null : buffers[bias];
            MemorySegment resSeg = residual < 0 ? null : buffers[residual];
            for (int n = 0; n < g.batch(); n++) {
                long inBase = (long) n * g.cin() * g.h() * g.w();
                if (g.pointwise()) {
                    Packing.packBRows(buffers[x], inBase, g.cin(), pixels, b, pool);
                } else {
                    packIm2col(buffers[x], inBase, g, b, pool);
                }
                GemmOutput target = new GemmOutput(buffers[out], (long) n * g.cout() * pixels, pixels, biasSeg, true, 0,
                        Activation.NONE, resSeg);
                Gemm.multiply(a, 0, g.cout(), b, 0, panels, pixels, depth, target, pool);
            }
        };
    }

    /**
     * Packs B[(ci, ky, kx)][(oy, ox)] = x[ci][oy*s + ky - top][ox*s + kx - left] (zero outside the image)
     * into NR-column panels.
     */
    static void packIm2col(MemorySegment x, long base, Geometry g, float[] dst, WorkerPool pool) {
        int pixels = g.ho() * g.wo();
        int panels = Gemm.panelsB(pixels);
        int depth = g.depth();
        int s = g.stride(), top = g.pad().top(), left = g.pad().left();
        int h = g.h(), w = g.w(), wo = g.wo();
        pool.forRange(panels, 4, (from, to) -> {
            int[] iy0 = new int[NR];
            int[] ix0 = new int[NR];
            for (int p = (int) from; p < to; p++) {
                int c0 = p * NR;
                int cols = Math.min(NR, pixels - c0);
                for (int j = 0; j < cols; j++) {
                    int pix = c0 + j;
                    iy0[j] = (pix / wo) * s - top;
                    ix0[j] = (pix % wo) * s - left;
                }
                int d = p * depth * NR;
                for (int ci = 0; ci < g.cin(); ci++) {
                    long plane = base + (long) ci * h * w;
                    for (int ky = 0; ky < g.kh(); ky++) {
                        for (int kx = 0; kx < g.kw(); kx++, d += NR) {
                            for (int j = 0; j < NR; j++) {
                                float v = 0f;
                                if (j < cols) {
                                    int iy = iy0[j] + ky, ix = ix0[j] + kx;
                                    if (iy >= 0 && iy < h && ix >= 0 && ix < w) {
                                        v = x.getAtIndex(FLOAT, plane + (long) iy * w + ix);
                                    }
                                }
                                dst[d + j] = v;
                            }
                        }
                    }
                }
            }
        });
    }
}
