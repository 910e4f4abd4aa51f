package io.jdiffusion.cpu;

import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.jdiffusion.cpu.CpuVectors.FLOAT;

/** Operators that move data: nearest upsampling, concat, transpose, embedding lookups, timestep embedding. */
final class LayoutKernels {
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(CpuVectors.ORDER);
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(CpuVectors.ORDER);

    /** upsample2x's input row and its doubled copy, per thread. */
    private static final ThreadScratch UPSAMPLE_ROW = new ThreadScratch();
    private static final ThreadScratch UPSAMPLE_WIDE = new ThreadScratch();
    /** transpose's block, per thread. */
    private static final ThreadScratch TRANSPOSE_TILE = new ThreadScratch();

    private LayoutKernels() {
    }

    /** Nearest 2x: each input row becomes two output rows of doubled elements. */
    static Kernel upsample2x(Op.Upsample2x op, CompileContext ctx) {
        Shape s = op.x().shape();
        long planes = s.dim(0) * s.dim(1);
        int h = s.size(2), w = s.size(3);
        int x = op.x().id(), out = op.out().id();
        WorkerPool pool = ctx.pool;
        return buffers -> pool.forRange(planes * h, 4, (from, to) -> {
            MemorySegment xs = buffers[x], os = buffers[out];
            float[] row = UPSAMPLE_ROW.floats(w);
            float[] wide = UPSAMPLE_WIDE.floats(2 * w);
            for (long r = from; r < to; r++) {
                long plane = r / h;
                int y = (int) (r % h);
                MemorySegment.copy(xs, FLOAT, 4 * r * w, row, 0, w);
                for (int i = 0; i < w; i++) {
                    wide[2 * i] = row[i];
                    wide[2 * i + 1] = row[i];
                }
                long o = (plane * 2 * h + 2L * y) * 2 * w;
                MemorySegment.copy(wide, 0, os, FLOAT, 4 * o, 2 * w);
                MemorySegment.copy(wide, 0, os, FLOAT, 4 * (o + 2L * w), 2 * w);
            }
        });
    }

    /** Concatenation: for each index before the axis, each part contributes one contiguous run. */
    static Kernel concat(Op.Concat op, CompileContext ctx) {
        Shape out = op.out().shape();
        int axis = op.axis();
        long outerCount = 1;
        for (int i = 0; i < axis; i++) {
            outerCount *= out.dim(i);
        }
        long outer = outerCount;
        long inner = out.countFrom(axis + 1);
        int parts = op.parts().size();
        int[] ids = new int[parts];
        long[] run = new long[parts];
        long[] offset = new long[parts];
        long total = 0;
        for (int p = 0; p < parts; p++) {
            Value v = op.parts().get(p);
            ids[p] = v.id();
            run[p] = v.shape().dim(axis) * inner;
            offset[p] = total;
            total += run[p];
        }
        long outRun = total;
        int o = op.out().id();
        WorkerPool pool = ctx.pool;
        return buffers -> pool.forRange(outer, 4, (from, to) -> {
            for (long i = from; i < to; i++) {
                for (int p = 0; p < parts; p++) {
                    MemorySegment.copy(buffers[ids[p]], 4 * i * run[p], buffers[o], 4 * (i * outRun + offset[p]), 4 * run[p]);
                }
            }
        });
    }

    /** [B, M, N] to [B, N, M] in 32 x 32 blocks, so both sides move whole cache lines. */
    static Kernel transpose(Op.Transpose op, CompileContext ctx) {
        Shape s = op.x().shape();
        int batch = s.size(0), m = s.size(1), n = s.size(2);
        int block = 32;
        int mBlocks = (m + block - 1) / block, nBlocks = (n + block - 1) / block;
        int x = op.x().id(), out = op.out().id();
        WorkerPool pool = ctx.pool;
        return buffers -> pool.forEach(batch * mBlocks, task -> {
            MemorySegment xs = buffers[x], os = buffers[out];
            int b = task / mBlocks, i0 = (task % mBlocks) * block;
            int i1 = Math.min(m, i0 + block);
            long base = (long) b * m * n;
            float[] tile = TRANSPOSE_TILE.floats(block * block);
            for (int jb = 0; jb < nBlocks; jb++) {
                int j0 = jb * block, j1 = Math.min(n, j0 + block);
                for (int i = i0; i < i1; i++) {
                    MemorySegment.copy(xs, FLOAT, 4 * (base + (long) i * n + j0), tile, (i - i0) * block, j1 - j0);
                }
                for (int j = j0; j < j1; j++) {
                    long o = base + (long) j * m + i0;
                    for (int i = i0; i < i1; i++) {
                        os.setAtIndex(FLOAT, o + (i - i0), tile[(i - i0) * block + (j - j0)]);
                    }
                }
            }
        });
    }

    /** Table rows gathered by id; an id outside the table fails naming it. */
    static Kernel embedding(Op.Embedding op, CompileContext ctx) {
        long count = op.ids().shape().elementCount();
        int vocab = op.table().shape().size(0);
        int width = op.table().shape().size(1);
        boolean wide = op.ids().dtype() == DType.I64;
        int ids = op.ids().id(), table = op.table().id(), out = op.out().id();
        return buffers -> {
            MemorySegment is = buffers[ids], ts = buffers[table], os = buffers[out];
            for (long i = 0; i < count; i++) {
                long id = wide ? is.getAtIndex(LONG, i) : is.getAtIndex(INT, i);
                if (id < 0 || id >= vocab) {
                    throw new IllegalArgumentException("embedding id " + id + " at position " + i + " is outside the table of "
                            + vocab + " rows (" + op.table() + ")");
                }
                MemorySegment.copy(ts, 4 * id * width, os, 4 * i * width, 4L * width);
            }
        };
    }

    /**
     * diffusers' get_timestep_embedding, with its float32 arithmetic: freq_i = exp(-ln(maxPeriod) * i /
     * (half - shift)) and the argument scale * t * freq_i are rounded to float as PyTorch computes them
     * (at t near 1000 that rounding moves sin/cos by up to 3e-5, more than the tolerance), then sin and
     * cos are evaluated in double.
     */
    static Kernel timestepEmbedding(Op.TimestepEmbedding op, CompileContext ctx) {
        int batch = op.t().shape().size(0);
        int dim = op.dim();
        float[] freq = timestepFrequencies(dim, op.downscaleFreqShift(), op.maxPeriod());
        int half = dim / 2;
        float scale = op.scale();
        boolean flip = op.flipSinToCos();
        int t = op.t().id(), out = op.out().id();
        return buffers -> {
            MemorySegment ts = buffers[t], os = buffers[out];
            for (int b = 0; b < batch; b++) {
                float tv = ts.getAtIndex(FLOAT, b);
                long row = (long) b * dim;
                for (int i = 0; i < half; i++) {
                    float arg = scale * (tv * freq[i]);
                    float sin = (float) Math.sin(arg), cos = (float) Math.cos(arg);
                    os.setAtIndex(FLOAT, row + i, flip ? cos : sin);
                    os.setAtIndex(FLOAT, row + half + i, flip ? sin : cos);
                }
                if (dim % 2 == 1) {
                    os.setAtIndex(FLOAT, row + dim - 1, 0f);
                }
            }
        };
    }

    /** freq_i as diffusers computes it in float32. */
    static float[] timestepFrequencies(int dim, float downscaleFreqShift, float maxPeriod) {
        int half = dim / 2;
        float[] freq = new float[half];
        float logPeriod = (float) -Math.log(maxPeriod);
        for (int i = 0; i < half; i++) {
            float exponent = (logPeriod * i) / (half - downscaleFreqShift);
            freq[i] = (float) Math.exp(exponent);
        }
        return freq;
    }
}
