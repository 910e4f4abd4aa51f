package io.jdiffusion.cpu;

import io.jdiffusion.backend.graph.Op;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import static io.jdiffusion.cpu.CpuVectors.F;
import static io.jdiffusion.cpu.CpuVectors.FLOAT;
import static io.jdiffusion.cpu.CpuVectors.L;
import static io.jdiffusion.cpu.Gemm.NR;

/**
 * Stride-1 convolutions with at most {@link #ROWS} output channels (the UNet's conv_out, 320 to 4; the VAE's,
 * 128 to 3), computed from the image directly. As an im2col GEMM their weights are a single A panel of
 * {@link Gemm#MR} rows, most of it padding, against a B of depth cin * kh * kw: nearly all of the time went to
 * packing kh * kw copies of the image for 4 output rows; Winograd transforms the whole input for as few outputs.
 * Here each input row is copied once, zero-padded, into a ring of kh rows per input channel (a thread's output
 * rows run in order, so each new output row stages one input row per channel), and a register tile of
 * {@link #ROWS} channels by NR pixels runs over every (channel, tap), reading the staged rows at the tap's column
 * shift. Bias and residual are fused into the write, as in the GEMM ({@link GemmOutput}).
 */
final class FewOutputsConv {
    /** Output channels of the register tile: 4 x 2 vectors, 8 accumulators, enough to keep both FMA pipes busy. */
    static final int ROWS = 4;
    /** A thread's staged input rows: kh per input channel, ring-indexed by input row. */
    private static final ThreadScratch STAGED = new ThreadScratch();
    /** The calling thread's weights as F32 rows, for the run's workers to read. */
    private static final ThreadScratch WEIGHTS = new ThreadScratch();
    private static final ThreadLocal<float[]> TILE = ThreadLocal.withInitial(() -> new float[Gemm.MR * NR]);

    private FewOutputsConv() {
    }

    static boolean applies(ConvKernels.Geometry g) {
        return g.stride() == 1 && g.cout() <= ROWS;
    }

    static Kernel compile(Op.Conv2d op, ConvKernels.Geometry g, CompileContext ctx) {
        ConvKernels.Weights weights = ConvKernels.Weights.of(op, g, ctx);
        int depth = g.depth();
        int x = op.x().id(), out = op.out().id();
        int pixels = g.ho() * g.wo();
        long imageIn = (long) g.cin() * g.h() * g.w();
        long imageOut = (long) g.cout() * pixels;
        WorkerPool pool = ctx.pool;
        return buffers -> {
            // the weights' one A panel (rows past cout zero) as F32 rows of the depth, the taps in weight order
            float[] w = WEIGHTS.floats(Gemm.MR * depth);
            weights.a(buffers).stage(0, Gemm.MR * depth, w, 0);
            GemmOutput target = GemmOutput.ofImages(buffers[out], pixels, imageOut, 0, weights.bias(buffers),
                    weights.residual(buffers));
            MemorySegment xs = buffers[x];
            pool.forRange((long) g.batch() * g.ho(), 4, (from, to) -> rows(xs, imageIn, g, w, (int) from, (int) to, target));
        };
    }

    /** Staged row width: the output row rounded up to whole tiles, plus the taps' reach past it. */
    private static int stagedWidth(ConvKernels.Geometry g) {
        return Gemm.panelsB(g.wo()) * NR + g.kw() - 1;
    }

    /** Output rows [from, to) of the batch (row r: image r / ho, row r % ho), in the calling thread. */
    private static void rows(MemorySegment x, long imageIn, ConvKernels.Geometry g, float[] w, int from, int to, GemmOutput target) {
        int kh = g.kh(), wo = g.wo(), top = g.pad().top();
        int width = stagedWidth(g);
        float[] staged = STAGED.floats(g.cin() * kh * width);
        float[] tile = TILE.get();
        int columnsPerImage = Gemm.panelsB(g.ho() * wo) * NR;
        int image = -1, next = 0; // the image whose rows are staged, and its next input row to stage
        for (int r = from; r < to; r++) {
            int n = r / g.ho(), oy = r % g.ho();
            int first = oy - top; // the input row of tap row 0
            for (int iy = n == image ? Math.max(next, first) : first; iy < first + kh; iy++) {
                stageRow(x, n * imageIn, g, iy, staged, width);
            }
            image = n;
            next = first + kh;
            for (int ox = 0; ox < wo; ox += NR) {
                tile(w, g, staged, width, first, ox, tile);
                target.store(tile, 0, g.cout(), n * columnsPerImage + oy * wo + ox, Math.min(NR, wo - ox));
            }
        }
    }

    /**
     * Input row iy of every channel into its ring slot (iy mod kh): staged column j holds input column j - left,
     * zero outside the image, as is a row above or below it.
     */
    private static void stageRow(MemorySegment x, long base, ConvKernels.Geometry g, int iy, float[] staged, int width) {
        int kh = g.kh(), h = g.h(), w = g.w(), left = g.pad().left();
        int copied = Math.min(w, width - left);
        for (int ci = 0; ci < g.cin(); ci++) {
            int d = (ci * kh + Math.floorMod(iy, kh)) * width;
            if (iy < 0 || iy >= h) {
                Arrays.fill(staged, d, d + width, 0f);
                continue;
            }
            Arrays.fill(staged, d, d + left, 0f);
            MemorySegment.copy(x, FLOAT, 4 * (base + ((long) ci * h + iy) * w), staged, d + left, copied);
            Arrays.fill(staged, d + left + copied, d + width, 0f);
        }
    }

    /**
     * The ROWS x NR register tile of output row (first + top), pixels [ox, ox + NR): the sum over channels and taps
     * of weight row r's tap times the staged row of tap row ky, shifted by the tap column kx. Written to
     * {@code tile} row-major (row stride NR), as the GEMM's epilogue takes it.
     */
    private static void tile(float[] w, ConvKernels.Geometry g, float[] staged, int width, int first, int ox, float[] tile) {
        int kh = g.kh(), kw = g.kw(), depth = g.depth();
        FloatVector c00 = FloatVector.zero(F), c01 = FloatVector.zero(F);
        FloatVector c10 = FloatVector.zero(F), c11 = FloatVector.zero(F);
        FloatVector c20 = FloatVector.zero(F), c21 = FloatVector.zero(F);
        FloatVector c30 = FloatVector.zero(F), c31 = FloatVector.zero(F);
        for (int ci = 0; ci < g.cin(); ci++) {
            for (int ky = 0; ky < kh; ky++) {
                int s = (ci * kh + Math.floorMod(first + ky, kh)) * width + ox;
                int t = (ci * kh + ky) * kw;
                for (int kx = 0; kx < kw; kx++, s++, t++) {
                    FloatVector b0 = FloatVector.fromArray(F, staged, s);
                    FloatVector b1 = FloatVector.fromArray(F, staged, s + L);
                    FloatVector a = FloatVector.broadcast(F, w[t]);
                    c00 = a.fma(b0, c00);
                    c01 = a.fma(b1, c01);
                    a = FloatVector.broadcast(F, w[depth + t]);
                    c10 = a.fma(b0, c10);
                    c11 = a.fma(b1, c11);
                    a = FloatVector.broadcast(F, w[2 * depth + t]);
                    c20 = a.fma(b0, c20);
                    c21 = a.fma(b1, c21);
                    a = FloatVector.broadcast(F, w[3 * depth + t]);
                    c30 = a.fma(b0, c30);
                    c31 = a.fma(b1, c31);
                }
            }
        }
        c00.intoArray(tile, 0);
        c01.intoArray(tile, L);
        c10.intoArray(tile, NR);
        c11.intoArray(tile, NR + L);
        c20.intoArray(tile, 2 * NR);
        c21.intoArray(tile, 2 * NR + L);
        c30.intoArray(tile, 3 * NR);
        c31.intoArray(tile, 3 * NR + L);
    }
}
