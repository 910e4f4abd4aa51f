package io.jdiffusion.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.HalfFloat;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * One thread per output element: activations, broadcast arithmetic, data movement (upsampling, concat,
 * transposes, embeddings). Every operand is an (array, element offset) pair into the executable's
 * device buffers. Offsets and sizes come in the task's own argument array ({@code args}, see {@link Storage});
 * operation codes and the {@code halves} mask are scalars, which TornadoVM folds into the kernel.
 */
public final class PointwiseKernels {
    public static final int OP_ADD = 0;
    public static final int OP_SUB = 1;
    public static final int OP_MUL = 2;

    private PointwiseKernels() {
    }

    /** args: x offset, out offset, n. */
    public static void unary(KernelContext ctx, HalfFloatArray f16, int halves, IntArray args, FloatArray x, FloatArray out, int act) {
        int xOff = args.get(0);
        int outOff = args.get(1);
        int n = args.get(2);
        boolean xHalf = Storage.half(halves, Storage.X);
        boolean outHalf = Storage.half(halves, Storage.OUT);
        int i = ctx.globalIdx;
        if (i < n) {
            Storage.store(out, f16, outOff + i, KernelMath.activate(Storage.load(x, f16, xOff + i, xHalf), act), outHalf);
        }
    }

    /** Elements each thread of {@link #fill} and {@link #fillHalves} writes: a launch of n / FILL_PER_THREAD threads. */
    public static final int FILL_PER_THREAD = 4;

    /**
     * out[i] = src[srcIndex] for i below n: a value read from device memory (a NaN constant in the kernel would
     * depend on how each backend prints one). Thread t of the first ceil(n / {@value #FILL_PER_THREAD}) writes
     * t, t + that count, and so on, each store coalesced across threads: one thread an element took 0.46 ms over
     * the VAE's 320 MiB arena on an H100, a fifth of its bandwidth.
     */
    public static void fill(KernelContext ctx, FloatArray src, int srcIndex, FloatArray out, int n) {
        int threads = (n + FILL_PER_THREAD - 1) / FILL_PER_THREAD;
        float v = src.get(srcIndex);
        if (ctx.globalIdx < threads) {
            for (int i = ctx.globalIdx; i < n; i += threads) {
                out.set(i, v);
            }
        }
    }

    /** {@link #fill} of an F16 array: out[i] = src[srcIndex] in F16 (a NaN stays NaN). */
    public static void fillHalves(KernelContext ctx, FloatArray src, int srcIndex, HalfFloatArray out, int n) {
        int threads = (n + FILL_PER_THREAD - 1) / FILL_PER_THREAD;
        HalfFloat v = new HalfFloat(src.get(srcIndex));
        if (ctx.globalIdx < threads) {
            for (int i = ctx.globalIdx; i < n; i += threads) {
                out.set(i, v);
            }
        }
    }

    /** x [rows, 2d] to out [rows, d]: h * gelu(gate) with h, gate = x.chunk(2, -1). args: x offset, out offset, n, d. */
    public static void geglu(KernelContext ctx, HalfFloatArray f16, int halves, IntArray args, FloatArray x, FloatArray out) {
        int xOff = args.get(0);
        int outOff = args.get(1);
        int n = args.get(2);
        int d = args.get(3);
        boolean xHalf = Storage.half(halves, Storage.X);
        boolean outHalf = Storage.half(halves, Storage.OUT);
        int i = ctx.globalIdx;
        if (i < n) {
            int r = i / d;
            int c = i - r * d;
            int base = xOff + r * 2 * d + c;
            float h = Storage.load(x, f16, base, xHalf);
            float gate = Storage.load(x, f16, base + d, xHalf);
            Storage.store(out, f16, outOff + i, h * KernelMath.gelu(gate), outHalf);
        }
    }

    /**
     * out = a (op) b. With {@code meta < 0} both operands have the output's shape; otherwise
     * {@code shapes[meta]} holds the rank r, the r output dimensions, then a's and b's r broadcast strides.
     * args: a offset, b offset, out offset, n, meta.
     */
    public static void binary(KernelContext ctx, HalfFloatArray f16, int halves, IntArray args, FloatArray a, FloatArray b,
                              FloatArray out, int op, IntArray shapes) {
        int aOff = args.get(0);
        int bOff = args.get(1);
        int outOff = args.get(2);
        int n = args.get(3);
        int meta = args.get(4);
        boolean xHalf = Storage.half(halves, Storage.X);
        boolean yHalf = Storage.half(halves, Storage.Y);
        boolean outHalf = Storage.half(halves, Storage.OUT);
        int i = ctx.globalIdx;
        if (i < n) {
            int ia = i;
            int ib = i;
            if (meta >= 0) {
                int rank = shapes.get(meta);
                int rem = i;
                ia = 0;
                ib = 0;
                for (int d = rank - 1; d >= 0; d--) {
                    int dim = shapes.get(meta + 1 + d);
                    int c = rem % dim;
                    rem = rem / dim;
                    ia += c * shapes.get(meta + 1 + rank + d);
                    ib += c * shapes.get(meta + 1 + 2 * rank + d);
                }
            }
            float x = Storage.load(a, f16, aOff + ia, xHalf);
            float y = Storage.load(b, f16, bOff + ib, yHalf);
            float r = x + y;
            if (op == OP_SUB) {
                r = x - y;
            } else if (op == OP_MUL) {
                r = x * y;
            }
            Storage.store(out, f16, outOff + i, r, outHalf);
        }
    }

    /** Nearest-neighbour 2x: x [planes, h, w] to out [planes, 2h, 2w]. args: x offset, out offset, n, h, w. */
    public static void upsample2x(KernelContext ctx, HalfFloatArray f16, int halves, IntArray args, FloatArray x, FloatArray out) {
        int xOff = args.get(0);
        int outOff = args.get(1);
        int n = args.get(2);
        int h = args.get(3);
        int w = args.get(4);
        boolean xHalf = Storage.half(halves, Storage.X);
        boolean outHalf = Storage.half(halves, Storage.OUT);
        int i = ctx.globalIdx;
        if (i < n) {
            int w2 = 2 * w;
            int plane = i / (4 * h * w);
            int rem = i - plane * 4 * h * w;
            int oy = rem / w2;
            int ox = rem - oy * w2;
            Storage.store(out, f16, outOff + i, Storage.load(x, f16, xOff + plane * h * w + (oy / 2) * w + ox / 2, xHalf), outHalf);
        }
    }

    /**
     * Copies part [outer, dp, inner] into out [outer, dTotal, inner] at position axisOffset of the middle axis.
     * args: part offset, out offset, n, dp, inner, dTotal, axisOffset.
     */
    public static void concatPart(KernelContext ctx, HalfFloatArray f16, int halves, IntArray args, FloatArray part, FloatArray out) {
        int pOff = args.get(0);
        int outOff = args.get(1);
        int n = args.get(2);
        int dp = args.get(3);
        int inner = args.get(4);
        int dTotal = args.get(5);
        int axisOffset = args.get(6);
        boolean xHalf = Storage.half(halves, Storage.X);
        boolean outHalf = Storage.half(halves, Storage.OUT);
        int i = ctx.globalIdx;
        if (i < n) {
            int o = i / (dp * inner);
            int rem = i - o * dp * inner;
            Storage.store(out, f16, outOff + (o * dTotal + axisOffset) * inner + rem, Storage.load(part, f16, pOff + i, xHalf),
                    outHalf);
        }
    }

    /**
     * Row lookup: ids [rows] into table [vocab, d] gives out [rows, d]. Ids were range-checked on the host.
     * args: ids offset, table offset, out offset, n, d.
     */
    public static void embedding(KernelContext ctx, HalfFloatArray f16, int halves, IntArray args, IntArray ids, FloatArray table,
                                 FloatArray out) {
        int idOff = args.get(0);
        int tOff = args.get(1);
        int outOff = args.get(2);
        int n = args.get(3);
        int d = args.get(4);
        boolean yHalf = Storage.half(halves, Storage.Y);
        boolean outHalf = Storage.half(halves, Storage.OUT);
        int i = ctx.globalIdx;
        if (i < n) {
            int r = i / d;
            int c = i - r * d;
            Storage.store(out, f16, outOff + i, Storage.load(table, f16, tOff + ids.get(idOff + r) * d + c, yHalf), outHalf);
        }
    }

    /** diffusers' get_timestep_embedding, computed in float32 like diffusers does. args: t offset, out offset, n, dim. */
    public static void timestepEmbedding(KernelContext ctx, HalfFloatArray f16, int halves, IntArray args, FloatArray t, FloatArray out,
                                         int flip, float shift, float scale, float logMaxPeriod) {
        int tOff = args.get(0);
        int outOff = args.get(1);
        int n = args.get(2);
        int dim = args.get(3);
        boolean xHalf = Storage.half(halves, Storage.X);
        boolean outHalf = Storage.half(halves, Storage.OUT);
        int i = ctx.globalIdx;
        if (i < n) {
            int b = i / dim;
            int c = i - b * dim;
            int half = dim / 2;
            float v = 0.0f;
            if (c < 2 * half) {
                int j = c;
                int second = 0;
                if (c >= half) {
                    j = c - half;
                    second = 1;
                }
                float freq = TornadoMath.exp(-logMaxPeriod * j / (half - shift));
                float arg = KernelMath.reduceAngle(scale * (Storage.load(t, f16, tOff + b, xHalf) * freq));
                // Halves are [sin, cos], or [cos, sin] when flipped.
                if (second == flip) {
                    v = TornadoMath.sin(arg);
                } else {
                    v = TornadoMath.cos(arg);
                }
            }
            Storage.store(out, f16, outOff + i, v, outHalf);
        }
    }

    /**
     * Padded F16 panels of matrices, the B operands of {@link TensorCoreKernels#gemm} in its linear mode ([k rows][n
     * columns]): panel p, dst [dstRows, dstCols] from p dstRows dstCols on, gets src p, [srcRows, srcCols] from src
     * offset + p srcCols with rows srcStride apart (one head of keys or values, from x or the F16 activations where
     * {@code halves} has {@link Storage#X}), transposed where {@code transposed} is 1, and zeros around it, so that the
     * product reads no unwritten (poisoned) padding. One thread per element of dst. args: src offset, srcRows,
     * srcCols, dstRows, dstCols, transposed, srcStride, panels.
     */
    public static void halfPanel(KernelContext ctx, HalfFloatArray f16, int halves, IntArray args, FloatArray x, HalfFloatArray dst) {
        int srcOff = args.get(0);
        int srcRows = args.get(1);
        int srcCols = args.get(2);
        int dstRows = args.get(3);
        int dstCols = args.get(4);
        int transposed = args.get(5);
        int srcStride = args.get(6);
        int panels = args.get(7);
        boolean xHalf = Storage.half(halves, Storage.X);
        int i = ctx.globalIdx;
        int panelSize = dstRows * dstCols;
        if (i < panels * panelSize) {
            int p = i / panelSize;
            int within = i - p * panelSize;
            int r = within / dstCols;
            int c = within - r * dstCols;
            int sr = transposed == 1 ? c : r;
            int sc = transposed == 1 ? r : c;
            int src = srcOff + p * srcCols + sr * srcStride + sc;
            // a loaded value rounded to F16, never a computed one (see LibraryStaging#rowsHalf)
            if (sr < srcRows && sc < srcCols) {
                if (xHalf) {
                    dst.set(i, f16.get(src));
                } else {
                    dst.set(i, new HalfFloat(x.get(src)));
                }
            } else {
                dst.set(i, new HalfFloat(0.0f));
            }
        }
    }

    /** Swaps the last two dimensions of x [batch, m, n] through a 32x33 tile (local size 32x8). args: x offset, out offset, m, n. */
    public static void transpose(KernelContext ctx, HalfFloatArray f16, int halves, IntArray args, FloatArray x, FloatArray out) {
        float[] tile = ctx.allocateFloatLocalArray(32 * 33);
        int xOff = args.get(0);
        int outOff = args.get(1);
        int m = args.get(2);
        int n = args.get(3);
        boolean xHalf = Storage.half(halves, Storage.X);
        boolean outHalf = Storage.half(halves, Storage.OUT);
        int lx = ctx.localIdx;
        int ly = ctx.localIdy;
        int n0 = ctx.groupIdx * 32;
        int m0 = ctx.groupIdy * 32;
        int b = ctx.globalIdz;
        int base = b * m * n;
        for (int r = ly; r < 32; r += 8) {
            int mm = m0 + r;
            int nn = n0 + lx;
            if (mm < m && nn < n) {
                tile[r * 33 + lx] = Storage.load(x, f16, xOff + base + mm * n + nn, xHalf);
            }
        }
        ctx.localBarrier();
        for (int r = ly; r < 32; r += 8) {
            int nn = n0 + r;
            int mm = m0 + lx;
            if (nn < n && mm < m) {
                Storage.store(out, f16, outOff + base + nn * m + mm, tile[lx * 33 + r], outHalf);
            }
        }
    }

    /**
     * Makes a task graph of a chain use every device buffer, so that TornadoVM allocates and hands on all of
     * them (it passes a persisted buffer only through graphs whose tasks touch it). {@code sizes[sentinel]}
     * is 0 on the device, so the body never runs, but no compiler can know that. Besides the buffers every
     * executable has, up to four F16 and six more F32 buffers (the staging, scratch and F16 arrays that only
     * some executables have; absent ones are tiny placeholders): one task per chained graph instead of one per
     * buffer. Bit i of {@code liveHalves} says whether half buffer i is really used in F16; a
     * clear bit folds its code away, so that F32 executables still compile for devices without F16 (PoCL).
     */
    public static void touchAll(KernelContext ctx, FloatArray a, FloatArray b, FloatArray c, FloatArray d, IntArray e, IntArray f,
                                IntArray sizes, int sentinel, int liveHalves, HalfFloatArray h0, HalfFloatArray h1, HalfFloatArray h2,
                                HalfFloatArray h3, FloatArray f0, FloatArray f1, FloatArray f2, FloatArray f3, FloatArray f4, FloatArray f5) {
        if (ctx.globalIdx == 0 && sizes.get(sentinel) == 1) {
            float v = a.get(0) + b.get(0) + c.get(0) + d.get(0) + e.get(0) + f.get(0);
            a.set(0, v);
            b.set(0, v);
            c.set(0, v);
            d.set(0, v);
            f0.set(0, f0.get(1));
            f1.set(0, f1.get(1));
            f2.set(0, f2.get(1));
            f3.set(0, f3.get(1));
            f4.set(0, f4.get(1));
            f5.set(0, f5.get(1));
            if ((liveHalves & 1) != 0) {
                h0.set(0, h0.get(1));
            }
            if ((liveHalves & 2) != 0) {
                h1.set(0, h1.get(1));
            }
            if ((liveHalves & 4) != 0) {
                h2.set(0, h2.get(1));
            }
            if ((liveHalves & 8) != 0) {
                h3.set(0, h3.get(1));
            }
        }
    }

    /**
     * The one task of the graph that uploads an executable's steady inputs (TornadoVM runs no task graph without a
     * task, and hands on only buffers a task uses). {@code f[sentinel]}, the element after the inputs, is 0, so the
     * body never runs; the read and the write make TornadoVM treat {@code f} as read and written, so that it uploads
     * it (it does not upload an array that kernels only write).
     */
    public static void touchUploaded(KernelContext ctx, FloatArray f, int sentinel) {
        if (ctx.globalIdx == 0 && f.get(sentinel) == 1f) {
            f.set(sentinel, 0f);
        }
    }

    /** {@link #touchAll} for one more F32 buffer (staging and scratch arrays). */
    public static void touchFloats(KernelContext ctx, FloatArray f, IntArray sizes, int sentinel) {
        if (ctx.globalIdx == 0 && sizes.get(sentinel) == 1) {
            f.set(0, f.get(1));
        }
    }

    /**
     * {@link #touchAll} for one more F16 buffer (tensor-core weights, library staging, the F16 activations). With
     * {@code live} 0 (the F16 placeholder of an F32 executable) TornadoVM folds the F16 code away, so that the
     * kernel still compiles for devices without F16 (PoCL), while the buffer still counts as used.
     */
    public static void touchHalves(KernelContext ctx, HalfFloatArray h, int live, IntArray sizes, int sentinel) {
        if (live == 1 && ctx.globalIdx == 0 && sizes.get(sentinel) == 1) {
            h.set(0, h.get(1));
        }
    }
}
