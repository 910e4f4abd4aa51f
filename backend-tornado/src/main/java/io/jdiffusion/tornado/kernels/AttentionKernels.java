package io.jdiffusion.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * Flash attention in F32 on packed heads: the score matrix is never stored. A work-group of
 * {@link #THREADS} threads owns {@link #QUERIES} queries of one (batch, head) and walks the keys in tiles
 * of {@link #KEYS}: scores of the tile, an online-softmax update of each row's running max and sum, then
 * the rescaled accumulation of P V. Q is pre-multiplied by the scale; K and V tiles share one local buffer.
 */
public final class AttentionKernels {
    public static final int THREADS = 128;
    public static final int QUERIES = 16;
    public static final int KEYS = 32;
    /** Largest head size the local tiles hold (SD 1.x reaches 160 in its deepest blocks). */
    public static final int MAX_HEAD = 160;

    private AttentionKernels() {
    }

    /**
     * Grid: x = ceil(nq / QUERIES) work-groups of THREADS, y = batch * heads. q [B, nq, heads*d],
     * k [B, nk, heads*d], v [B, nk, heads*dv], out [B, nq, heads*dv]; {@code sizes[meta]} is nk. Operands in F16
     * activations: q {@link Storage#X}, k {@link Storage#Y}, v {@link Storage#Z}, out {@link Storage#OUT}.
     */
    public static void attention(KernelContext ctx, HalfFloatArray f16, int halves, IntArray args, FloatArray q, FloatArray k, FloatArray v,
                                 FloatArray out, IntArray sizes, float scale, int causal) {
        int qOff = args.get(0);
        int kOff = args.get(1);
        int vOff = args.get(2);
        int oOff = args.get(3);
        int nq = args.get(4);
        int meta = args.get(5);
        int heads = args.get(6);
        int d = args.get(7);
        int dv = args.get(8);
        boolean qHalf = Storage.half(halves, Storage.X);
        boolean kHalf = Storage.half(halves, Storage.Y);
        boolean vHalf = Storage.half(halves, Storage.Z);
        boolean outHalf = Storage.half(halves, Storage.OUT);
        // nk is read from device memory rather than specialised: a key loop of constant trip count gets
        // unrolled into branches with constant conditions, which TornadoVM's OpenCL code generator rejects.
        int nk = sizes.get(meta);
        float[] qs = ctx.allocateFloatLocalArray(QUERIES * MAX_HEAD);
        float[] kv = ctx.allocateFloatLocalArray(KEYS * MAX_HEAD);
        float[] os = ctx.allocateFloatLocalArray(QUERIES * MAX_HEAD);
        float[] p = ctx.allocateFloatLocalArray(QUERIES * KEYS);
        float[] rowMax = ctx.allocateFloatLocalArray(QUERIES);
        float[] rowSum = ctx.allocateFloatLocalArray(QUERIES);
        float[] rowScale = ctx.allocateFloatLocalArray(QUERIES);
        int lid = ctx.localIdx;
        int q0 = ctx.groupIdx * QUERIES;
        int bh = ctx.groupIdy;
        int b = bh / heads;
        int h = bh - b * heads;
        int qStride = heads * d;
        int vStride = heads * dv;

        for (int e = lid; e < QUERIES * d; e += THREADS) {
            int r = e / d;
            int c = e - r * d;
            int qi = q0 + r;
            float val = 0.0f;
            if (qi < nq) {
                val = Storage.load(q, f16, qOff + (b * nq + qi) * qStride + h * d + c, qHalf) * scale;
            }
            qs[e] = val;
        }
        for (int e = lid; e < QUERIES * dv; e += THREADS) {
            os[e] = 0.0f;
        }
        if (lid < QUERIES) {
            rowMax[lid] = KernelMath.MASKED;
            rowSum[lid] = 0.0f;
        }
        ctx.localBarrier();

        int kEnd = nk;
        if (causal == 1) {
            kEnd = Math.min(nk, q0 + QUERIES);
        }
        for (int k0 = 0; k0 < kEnd; k0 += KEYS) {
            for (int e = lid; e < KEYS * d; e += THREADS) {
                int r = e / d;
                int c = e - r * d;
                int kj = k0 + r;
                float val = 0.0f;
                if (kj < nk) {
                    val = Storage.load(k, f16, kOff + (b * nk + kj) * qStride + h * d + c, kHalf);
                }
                kv[e] = val;
            }
            ctx.localBarrier();
            for (int e = lid; e < QUERIES * KEYS; e += THREADS) {
                int r = e / KEYS;
                int j = e - r * KEYS;
                int kj = k0 + j;
                float s = KernelMath.MASKED;
                if (kj < nk && (causal == 0 || kj <= q0 + r)) {
                    s = 0.0f;
                    for (int c = 0; c < d; c++) {
                        s += qs[r * d + c] * kv[j * d + c];
                    }
                }
                p[e] = s;
            }
            ctx.localBarrier();
            if (lid < QUERIES) {
                float oldMax = rowMax[lid];
                float mx = oldMax;
                for (int j = 0; j < KEYS; j++) {
                    mx = Math.max(mx, p[lid * KEYS + j]);
                }
                float sum = 0.0f;
                for (int j = 0; j < KEYS; j++) {
                    float s = p[lid * KEYS + j];
                    float e = 0.0f;
                    if (s > KernelMath.MASKED) {
                        e = TornadoMath.exp(s - mx);
                    }
                    p[lid * KEYS + j] = e;
                    sum += e;
                }
                float alpha = TornadoMath.exp(oldMax - mx);
                rowScale[lid] = alpha;
                rowSum[lid] = rowSum[lid] * alpha + sum;
                rowMax[lid] = mx;
            }
            ctx.localBarrier();
            for (int e = lid; e < KEYS * dv; e += THREADS) {
                int r = e / dv;
                int c = e - r * dv;
                int kj = k0 + r;
                float val = 0.0f;
                if (kj < nk) {
                    val = Storage.load(v, f16, vOff + (b * nk + kj) * vStride + h * dv + c, vHalf);
                }
                kv[e] = val;
            }
            ctx.localBarrier();
            for (int e = lid; e < QUERIES * dv; e += THREADS) {
                int r = e / dv;
                int c = e - r * dv;
                float acc = os[e] * rowScale[r];
                for (int j = 0; j < KEYS; j++) {
                    acc += p[r * KEYS + j] * kv[j * dv + c];
                }
                os[e] = acc;
            }
            ctx.localBarrier();
        }
        for (int e = lid; e < QUERIES * dv; e += THREADS) {
            int r = e / dv;
            int c = e - r * dv;
            int qi = q0 + r;
            if (qi < nq) {
                Storage.store(out, f16, oOff + (b * nq + qi) * vStride + h * dv + c, os[e] / rowSum[r], outHalf);
            }
        }
    }

    /** Keys per tile of {@link #attentionLargeHead}. */
    public static final int KEYS_LARGE = 16;
    /** Largest head size of {@link #attentionLargeHead} (the VAE's single 512-wide head). */
    public static final int MAX_HEAD_LARGE = 512;

    /**
     * Flash attention for heads wider than {@link #MAX_HEAD} (the VAE mid-block: one head of 512): the
     * same online softmax, but Q is read from global memory and the output block is accumulated in F32 in
     * {@code acc}, an array of its own laid out like {@code out},
     * so local memory holds only a K or V tile of {@link #KEYS_LARGE} keys. Same grid as {@link #attention};
     * {@code dims} packs d (bits 0-15) and dv (16-31), since TornadoVM's tasks take at most 20 arguments.
     */
    public static void attentionLargeHead(KernelContext ctx, HalfFloatArray f16, int halves, IntArray args, FloatArray q, FloatArray k,
                                          FloatArray v, FloatArray out, FloatArray acc, IntArray sizes, float scale, int causal) {
        float[] kv = ctx.allocateFloatLocalArray(KEYS_LARGE * MAX_HEAD_LARGE);
        float[] p = ctx.allocateFloatLocalArray(QUERIES * KEYS_LARGE);
        float[] rowMax = ctx.allocateFloatLocalArray(QUERIES);
        float[] rowSum = ctx.allocateFloatLocalArray(QUERIES);
        float[] rowScale = ctx.allocateFloatLocalArray(QUERIES);
        int qOff = args.get(0);
        int kOff = args.get(1);
        int vOff = args.get(2);
        int oOff = args.get(3);
        int accOff = args.get(4);
        int nq = args.get(5);
        int meta = args.get(6);
        int heads = args.get(7);
        int dims = args.get(8);
        boolean qHalf = Storage.half(halves, Storage.X);
        boolean kHalf = Storage.half(halves, Storage.Y);
        boolean vHalf = Storage.half(halves, Storage.Z);
        boolean outHalf = Storage.half(halves, Storage.OUT);
        int nk = sizes.get(meta);
        int d = dims & 65535;
        int dv = dims >>> 16;
        int lid = ctx.localIdx;
        int q0 = ctx.groupIdx * QUERIES;
        int bh = ctx.groupIdy;
        int b = bh / heads;
        int h = bh - b * heads;
        int qStride = heads * d;
        int vStride = heads * dv;
        int rows = Math.min(QUERIES, nq - q0);

        for (int e = lid; e < rows * dv; e += THREADS) {
            int r = e / dv;
            int c = e - r * dv;
            acc.set(accOff + (b * nq + q0 + r) * vStride + h * dv + c, 0.0f);
        }
        if (lid < QUERIES) {
            rowMax[lid] = KernelMath.MASKED;
            rowSum[lid] = 0.0f;
        }
        ctx.localBarrier();

        int kEnd = nk;
        if (causal == 1) {
            kEnd = Math.min(nk, q0 + QUERIES);
        }
        for (int k0 = 0; k0 < kEnd; k0 += KEYS_LARGE) {
            for (int e = lid; e < KEYS_LARGE * d; e += THREADS) {
                int r = e / d;
                int c = e - r * d;
                int kj = k0 + r;
                float val = 0.0f;
                if (kj < nk) {
                    val = Storage.load(k, f16, kOff + (b * nk + kj) * qStride + h * d + c, kHalf);
                }
                kv[e] = val;
            }
            ctx.localBarrier();
            for (int e = lid; e < QUERIES * KEYS_LARGE; e += THREADS) {
                int r = e / KEYS_LARGE;
                int j = e - r * KEYS_LARGE;
                int kj = k0 + j;
                float s = KernelMath.MASKED;
                if (r < rows && kj < nk && (causal == 0 || kj <= q0 + r)) {
                    s = 0.0f;
                    int qBase = qOff + (b * nq + q0 + r) * qStride + h * d;
                    for (int c = 0; c < d; c++) {
                        s += Storage.load(q, f16, qBase + c, qHalf) * kv[j * d + c];
                    }
                    s = s * scale;
                }
                p[e] = s;
            }
            ctx.localBarrier();
            if (lid < QUERIES) {
                float oldMax = rowMax[lid];
                float mx = oldMax;
                for (int j = 0; j < KEYS_LARGE; j++) {
                    mx = Math.max(mx, p[lid * KEYS_LARGE + j]);
                }
                float sum = 0.0f;
                for (int j = 0; j < KEYS_LARGE; j++) {
                    float s = p[lid * KEYS_LARGE + j];
                    float e = 0.0f;
                    if (s > KernelMath.MASKED) {
                        e = TornadoMath.exp(s - mx);
                    }
                    p[lid * KEYS_LARGE + j] = e;
                    sum += e;
                }
                float alpha = TornadoMath.exp(oldMax - mx);
                rowScale[lid] = alpha;
                rowSum[lid] = rowSum[lid] * alpha + sum;
                rowMax[lid] = mx;
            }
            ctx.localBarrier();
            for (int e = lid; e < KEYS_LARGE * dv; e += THREADS) {
                int r = e / dv;
                int c = e - r * dv;
                int kj = k0 + r;
                float val = 0.0f;
                if (kj < nk) {
                    val = Storage.load(v, f16, vOff + (b * nk + kj) * vStride + h * dv + c, vHalf);
                }
                kv[e] = val;
            }
            ctx.localBarrier();
            for (int e = lid; e < rows * dv; e += THREADS) {
                int r = e / dv;
                int c = e - r * dv;
                int o = accOff + (b * nq + q0 + r) * vStride + h * dv + c;
                float sum = acc.get(o) * rowScale[r];
                for (int j = 0; j < KEYS_LARGE; j++) {
                    sum += p[r * KEYS_LARGE + j] * kv[j * dv + c];
                }
                acc.set(o, sum);
            }
            ctx.localBarrier();
        }
        for (int e = lid; e < rows * dv; e += THREADS) {
            int r = e / dv;
            int c = e - r * dv;
            int o = (b * nq + q0 + r) * vStride + h * dv + c;
            Storage.store(out, f16, oOff + o, acc.get(accOff + o) / rowSum[r], outHalf);
        }
    }
}
