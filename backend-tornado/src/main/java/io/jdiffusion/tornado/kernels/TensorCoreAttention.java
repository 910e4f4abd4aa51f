package io.jdiffusion.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.enums.MMAShape;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.HalfFloat;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * Flash attention on tensor cores (F16 operands, F32 accumulation, PTX and CUDA backends) for heads up to
 * {@link #MAX_HEAD} wide; the score matrix is never stored whole.
 *
 * <p>A work-group of 4 warps owns 64 queries of one (batch, head) and 64 output columns (grid z walks wider
 * value heads in chunks of 64); each warp owns 16 query rows. Keys go by in tiles of 64, in one pass: S = Q K^T
 * on tensor cores, stored to the work-group's 64x64 slice of {@code scratch} (global memory, L2-resident) for the
 * softmax on CUDA cores, then O += P V on tensor cores, accumulated in fragments across all key tiles.
 *
 * <p>TornadoVM's accumulator fragments are registers that Java cannot index or rescale, so the online softmax's
 * rescaling of O when a row's maximum grows is not available. Instead each row's weights are taken against one
 * shift for the whole pass: the maximum of its scores in the first key tile. The weights exp(s - shift) are
 * rounded to F16 for the P V product, so they may exceed 1 but must stay far below F16's largest value; a row
 * whose scores later rise more than {@link #SHIFT_SLACK} above its shift would risk that, so the work-group then
 * runs the pass again with each row's exact maximum, which the first pass has found. Rows are normalised by
 * their sum of weights (kept in F32) when O is written. The second pass is rare: it needs a score about 8 above
 * the largest of the row's first 64 (e^8 times its weight).
 */
public final class TensorCoreAttention {
    public static final int THREADS = 128;
    public static final int QUERIES = 64;
    public static final int KEYS = 64;
    /** Value columns per work-group. */
    public static final int COLUMNS = 64;
    /** Widest head: Q and K tiles of 64 x 160 F16 fit the 48 KiB of static local memory. */
    public static final int MAX_HEAD = 160;
    /** Scratch floats per work-group. */
    public static final int TILE_FLOATS = QUERIES * KEYS;
    /**
     * How far above its shift a row's scores may rise before the pass is run again with the exact maximum: a weight
     * is then at most e^8 (about 3000), far inside F16's range (65504), with F16's relative precision unchanged.
     */
    public static final float SHIFT_SLACK = 8.0f;

    /** Fields of the descriptor at {@code sizes[meta]}. */
    public static final int NQ = 0;
    public static final int NK = 1;
    public static final int HEADS = 2;
    public static final int D = 3;
    public static final int DV = 4;
    public static final int D_PADDED = 5;
    public static final int Q_BLOCKS = 6;
    public static final int BATCH_HEADS = 7;
    public static final int FIELDS = 8;

    private static final int TILE_INTS = MAX_HEAD * QUERIES / 2;
    /** Int offset of the V tile in the shared K/P/V buffer (after P's 64x64 F16). */
    private static final int V_INTS = QUERIES * KEYS / 2;
    /** Byte offset of the V tile. */
    private static final int V_BYTES = V_INTS * 4;

    private TensorCoreAttention() {
    }

    /**
     * Grid: x = Q_BLOCKS work-groups of {@link #THREADS}, y = batch * heads, z = ceil(dv / 64). q [B, nq,
     * heads*d], k [B, nk, heads*d], v [B, nk, heads*dv], out [B, nq, heads*dv]. Operands in F16 activations:
     * q {@link Storage#X}, k {@link Storage#Y}, v {@link Storage#Z}, out {@link Storage#OUT}.
     */
    public static void attention(KernelContext ctx, HalfFloatArray f16, int halves, FloatArray q, int qOff, FloatArray k, int kOff,
                                 FloatArray v, int vOff, FloatArray out, int oOff, FloatArray scratch, IntArray sizes, int meta,
                                 float scale, int causal) {
        boolean qHalf = Storage.half(halves, Storage.X);
        boolean kHalf = Storage.half(halves, Storage.Y);
        boolean vHalf = Storage.half(halves, Storage.Z);
        boolean outHalf = Storage.half(halves, Storage.OUT);
        int nq = sizes.get(meta + NQ);
        int nk = sizes.get(meta + NK);
        int heads = sizes.get(meta + HEADS);
        int d = sizes.get(meta + D);
        int dv = sizes.get(meta + DV);
        int dp = sizes.get(meta + D_PADDED);
        int qBlocks = sizes.get(meta + Q_BLOCKS);
        int bhCount = sizes.get(meta + BATCH_HEADS);
        int tid = ctx.localIdx;
        int warp = tid >> 5;
        int q0 = ctx.groupIdx * QUERIES;
        int bh = ctx.groupIdy;
        int chunk = ctx.groupIdz;
        int b = bh / heads;
        int h = bh - b * heads;
        int qStride = heads * d;
        int vStride = heads * dv;
        int width = dv - chunk * COLUMNS;
        int qBase = qOff + b * nq * qStride + h * d;
        int kBase = kOff + b * nk * qStride + h * d;
        int vBase = vOff + b * nk * vStride + h * dv + chunk * COLUMNS;
        int block = (chunk * bhCount + bh) * qBlocks + ctx.groupIdx;
        int sBase = block * TILE_FLOATS;
        int tileRow = block * QUERIES + warp * 16;
        int kPairs = dp * 32;
        int kEnd = nk;
        if (causal == 1) {
            kEnd = Math.min(nk, q0 + QUERIES);
        }
        // SIMT work: thread t owns query row t / 2, keys [32 (t % 2), 32 (t % 2) + 32) of each tile.
        int myRow = tid >> 1;
        int myKeys = (tid & 1) << 5;
        int myQuery = q0 + myRow;
        int rowBase = sBase + myRow * KEYS + myKeys;

        int[] qTile = ctx.allocateIntLocalArray(TILE_INTS);
        int[] buf = ctx.allocateIntLocalArray(TILE_INTS);
        // [0, THREADS): each thread's largest score, then [THREADS, 2 THREADS): its sum of weights
        float[] stats = ctx.allocateFloatLocalArray(2 * THREADS);
        // One flag per pass: some row rose more than SHIFT_SLACK above its shift. Four ints, not two: TornadoVM
        // declares each local array with its element's alignment only, so every array here is kept a multiple of
        // 16 bytes long, or the tiles that ldmatrix reads (16-byte aligned rows) may be laid out misaligned after it.
        int[] rose = ctx.allocateIntLocalArray(4);
        if (tid == 0) {
            rose[0] = 0;
            rose[1] = 0;
        }

        // Q as the A operand: [d / 16 blocks][64 rows][8 pairs].
        for (int idx = tid; idx < kPairs; idx += THREADS) {
            int within = idx & 511;
            int qi = q0 + (within >> 3);
            int c = ((idx >> 9) << 4) + ((within & 7) << 1);
            qTile[idx] = pairOf(q, f16, qHalf, qBase + qi * qStride + c, qOff, qi < nq, c, d);
        }

        float shift = 0.0f;
        int passes = 1;
        for (int pass = 0; pass < passes; pass++) {
            float[] o0 = ctx.mmaFragment(0.0f);
            float[] o1 = ctx.mmaFragment(0.0f);
            float[] o2 = ctx.mmaFragment(0.0f);
            float[] o3 = ctx.mmaFragment(0.0f);
            float[] o4 = ctx.mmaFragment(0.0f);
            float[] o5 = ctx.mmaFragment(0.0f);
            float[] o6 = ctx.mmaFragment(0.0f);
            float[] o7 = ctx.mmaFragment(0.0f);
            float seen = KernelMath.MASKED;
            float l = 0.0f;
            for (int k0 = 0; k0 < kEnd; k0 += KEYS) {
                // K^T as the B operand: [d / 16 blocks][8 sub-tiles of 8 keys][16 d rows][4 key pairs]; consecutive
                // threads read consecutive d of one key.
                for (int it = tid; it < kPairs; it += 4 * THREADS) {
                    buf[kSlot(it)] = keyPair(k, f16, kHalf, kBase, kOff, it, k0, nk, qStride, d);
                    buf[kSlot(it + THREADS)] = keyPair(k, f16, kHalf, kBase, kOff, it + THREADS, k0, nk, qStride, d);
                    buf[kSlot(it + 2 * THREADS)] = keyPair(k, f16, kHalf, kBase, kOff, it + 2 * THREADS, k0, nk, qStride, d);
                    buf[kSlot(it + 3 * THREADS)] = keyPair(k, f16, kHalf, kBase, kOff, it + 3 * THREADS, k0, nk, qStride, d);
                }
                ctx.localBarrier();
                float[] s0 = ctx.mmaFragment(0.0f);
                float[] s1 = ctx.mmaFragment(0.0f);
                float[] s2 = ctx.mmaFragment(0.0f);
                float[] s3 = ctx.mmaFragment(0.0f);
                float[] s4 = ctx.mmaFragment(0.0f);
                float[] s5 = ctx.mmaFragment(0.0f);
                float[] s6 = ctx.mmaFragment(0.0f);
                float[] s7 = ctx.mmaFragment(0.0f);
                for (int kb = 0; kb < dp; kb += 16) {
                    int bOff = kb * 128;
                    HalfFloat[] fa = ctx.mmaLoadA(qTile, 16, kb * 128 + warp * 512);
                    s0 = ctx.mma(fa, ctx.mmaLoadB(buf, 16, bOff), s0, MMAShape.M16N8K16);
                    s1 = ctx.mma(fa, ctx.mmaLoadB(buf, 16, bOff + 256), s1, MMAShape.M16N8K16);
                    s2 = ctx.mma(fa, ctx.mmaLoadB(buf, 16, bOff + 512), s2, MMAShape.M16N8K16);
                    s3 = ctx.mma(fa, ctx.mmaLoadB(buf, 16, bOff + 768), s3, MMAShape.M16N8K16);
                    s4 = ctx.mma(fa, ctx.mmaLoadB(buf, 16, bOff + 1024), s4, MMAShape.M16N8K16);
                    s5 = ctx.mma(fa, ctx.mmaLoadB(buf, 16, bOff + 1280), s5, MMAShape.M16N8K16);
                    s6 = ctx.mma(fa, ctx.mmaLoadB(buf, 16, bOff + 1536), s6, MMAShape.M16N8K16);
                    s7 = ctx.mma(fa, ctx.mmaLoadB(buf, 16, bOff + 1792), s7, MMAShape.M16N8K16);
                }
                ctx.mmaStore(s0, scratch, tileRow, 0, KEYS);
                ctx.mmaStore(s1, scratch, tileRow, 8, KEYS);
                ctx.mmaStore(s2, scratch, tileRow, 16, KEYS);
                ctx.mmaStore(s3, scratch, tileRow, 24, KEYS);
                ctx.mmaStore(s4, scratch, tileRow, 32, KEYS);
                ctx.mmaStore(s5, scratch, tileRow, 40, KEYS);
                ctx.mmaStore(s6, scratch, tileRow, 48, KEYS);
                ctx.mmaStore(s7, scratch, tileRow, 56, KEYS);
                ctx.localBarrier();
                int key0 = k0 + myKeys;
                if (pass == 0 && k0 == 0) {
                    // The shift: the row's largest score in the first tile (the two threads of a row agree on it).
                    float first = KernelMath.MASKED;
                    for (int j = 0; j < 32; j++) {
                        first = Math.max(first, score(scratch, rowBase, j, key0, nk, myQuery, causal, scale));
                    }
                    stats[tid] = first;
                    ctx.localBarrier();
                    shift = Math.max(first, stats[tid ^ 1]);
                }
                // P in place of S, weights against the shift (F32 here: TornadoVM rounds to F16 only a float it reads
                // from an array).
                float sum = 0.0f;
                for (int j = 0; j < 32; j += 4) {
                    float x0 = score(scratch, rowBase, j, key0, nk, myQuery, causal, scale);
                    float x1 = score(scratch, rowBase, j + 1, key0, nk, myQuery, causal, scale);
                    float x2 = score(scratch, rowBase, j + 2, key0, nk, myQuery, causal, scale);
                    float x3 = score(scratch, rowBase, j + 3, key0, nk, myQuery, causal, scale);
                    seen = Math.max(seen, Math.max(Math.max(x0, x1), Math.max(x2, x3)));
                    float p0 = weight(x0, shift);
                    float p1 = weight(x1, shift);
                    float p2 = weight(x2, shift);
                    float p3 = weight(x3, shift);
                    sum += (p0 + p1) + (p2 + p3);
                    scratch.set(rowBase + j, p0);
                    scratch.set(rowBase + j + 1, p1);
                    scratch.set(rowBase + j + 2, p2);
                    scratch.set(rowBase + j + 3, p3);
                }
                l += sum;
                // V chunk as the B operand: [4 blocks of 16 keys][8 sub-tiles of 8 columns][16 keys][4 pairs]. Every
                // thread has passed the barrier after its Q K^T, so the K tile it overwrites is no longer read.
                for (int it = tid; it < 2048; it += 4 * THREADS) {
                    buf[V_INTS + it] = valuePair(v, f16, vHalf, vBase, vOff, it, k0, nk, vStride, width);
                    buf[V_INTS + it + THREADS] = valuePair(v, f16, vHalf, vBase, vOff, it + THREADS, k0, nk, vStride, width);
                    buf[V_INTS + it + 2 * THREADS] = valuePair(v, f16, vHalf, vBase, vOff, it + 2 * THREADS, k0, nk, vStride,
                            width);
                    buf[V_INTS + it + 3 * THREADS] = valuePair(v, f16, vHalf, vBase, vOff, it + 3 * THREADS, k0, nk, vStride,
                            width);
                }
                ctx.localBarrier();
                // P as the A operand: [4 blocks of 16 keys][64 rows][8 pairs], read back from scratch as F16.
                for (int it = tid; it < 2048; it += 4 * THREADS) {
                    buf[it] = probabilityPair(scratch, sBase, it);
                    buf[it + THREADS] = probabilityPair(scratch, sBase, it + THREADS);
                    buf[it + 2 * THREADS] = probabilityPair(scratch, sBase, it + 2 * THREADS);
                    buf[it + 3 * THREADS] = probabilityPair(scratch, sBase, it + 3 * THREADS);
                }
                ctx.localBarrier();
                for (int kb = 0; kb < 4; kb++) {
                    int bOff = V_BYTES + kb * 2048;
                    HalfFloat[] fa = ctx.mmaLoadA(buf, 16, kb * 2048 + warp * 512);
                    o0 = ctx.mma(fa, ctx.mmaLoadB(buf, 16, bOff), o0, MMAShape.M16N8K16);
                    o1 = ctx.mma(fa, ctx.mmaLoadB(buf, 16, bOff + 256), o1, MMAShape.M16N8K16);
                    o2 = ctx.mma(fa, ctx.mmaLoadB(buf, 16, bOff + 512), o2, MMAShape.M16N8K16);
                    o3 = ctx.mma(fa, ctx.mmaLoadB(buf, 16, bOff + 768), o3, MMAShape.M16N8K16);
                    o4 = ctx.mma(fa, ctx.mmaLoadB(buf, 16, bOff + 1024), o4, MMAShape.M16N8K16);
                    o5 = ctx.mma(fa, ctx.mmaLoadB(buf, 16, bOff + 1280), o5, MMAShape.M16N8K16);
                    o6 = ctx.mma(fa, ctx.mmaLoadB(buf, 16, bOff + 1536), o6, MMAShape.M16N8K16);
                    o7 = ctx.mma(fa, ctx.mmaLoadB(buf, 16, bOff + 1792), o7, MMAShape.M16N8K16);
                }
                // The next tile's K load and S store overwrite what this one read.
                ctx.localBarrier();
            }
            stats[tid] = seen;
            stats[THREADS + tid] = l;
            if (seen - shift > SHIFT_SLACK) {
                rose[pass] = 1;
            }
            ctx.localBarrier();
            if (rose[pass] == 1) {
                // Again with the exact maximum found; the scores cannot rise above it.
                shift = Math.max(seen, stats[tid ^ 1]);
                passes = 2;
            } else {
                ctx.mmaStore(o0, scratch, tileRow, 0, COLUMNS);
                ctx.mmaStore(o1, scratch, tileRow, 8, COLUMNS);
                ctx.mmaStore(o2, scratch, tileRow, 16, COLUMNS);
                ctx.mmaStore(o3, scratch, tileRow, 24, COLUMNS);
                ctx.mmaStore(o4, scratch, tileRow, 32, COLUMNS);
                ctx.mmaStore(o5, scratch, tileRow, 40, COLUMNS);
                ctx.mmaStore(o6, scratch, tileRow, 48, COLUMNS);
                ctx.mmaStore(o7, scratch, tileRow, 56, COLUMNS);
                ctx.localBarrier();
                int cols = Math.min(COLUMNS, width);
                for (int e = tid; e < QUERIES * COLUMNS; e += THREADS) {
                    int r = e >> 6;
                    int c = e & 63;
                    int qi = q0 + r;
                    if (qi < nq && c < cols) {
                        float rowSum = stats[THREADS + 2 * r] + stats[THREADS + 2 * r + 1];
                        Storage.store(out, f16, oOff + (b * nq + qi) * vStride + h * dv + chunk * COLUMNS + c,
                                scratch.get(sBase + e) / rowSum, outHalf);
                    }
                }
            }
        }
    }

    /** F16 pair (x[g], x[g+1]) for columns c, c+1 of a row; 0 outside the row (width n) or where the row is invalid. */
    private static int pairOf(FloatArray x, HalfFloatArray f16, boolean xHalf, int g, int safe, boolean rowOk, int c, int n) {
        boolean in0 = rowOk & (c < n);
        boolean in1 = rowOk & (c + 1 < n);
        int lo = TensorCoreKernels.bits(x, f16, in0 ? g : safe, xHalf);
        int hi = TensorCoreKernels.bits(x, f16, in1 ? g + 1 : safe, xHalf);
        return (in0 ? lo : 0) | ((in1 ? hi : 0) << 16);
    }

    /** Pair {@code it} of the K tile: keys j, j+1 at one d (consecutive {@code it} walk d). */
    private static int keyPair(FloatArray k, HalfFloatArray f16, boolean kHalf, int kBase, int safe, int it, int k0, int nk,
                               int stride, int d) {
        int within = it & 511;
        int c = ((it >> 9) << 4) + (within & 15);
        int j = k0 + ((within >> 4) << 1);
        boolean c0 = c < d;
        boolean in0 = c0 & (j < nk);
        boolean in1 = c0 & (j + 1 < nk);
        int g = kBase + j * stride + c;
        int lo = TensorCoreKernels.bits(k, f16, in0 ? g : safe, kHalf);
        int hi = TensorCoreKernels.bits(k, f16, in1 ? g + stride : safe, kHalf);
        return (in0 ? lo : 0) | ((in1 ? hi : 0) << 16);
    }

    /** Where K pair {@code it} goes: block it / 512, sub-tile of its key, its d row, its key pair. */
    private static int kSlot(int it) {
        int within = it & 511;
        int rest = within >> 4;
        return (it & ~511) + (rest >> 2) * 64 + (within & 15) * 4 + (rest & 3);
    }

    /** Pair {@code it} of the V chunk tile (columns c, c+1 of key row kr), in the layout order. */
    private static int valuePair(FloatArray v, HalfFloatArray f16, boolean vHalf, int vBase, int safe, int it, int k0, int nk,
                                 int stride, int width) {
        int within = it & 511;
        int in = within & 63;
        int c = (within >> 6) * 8 + ((in & 3) << 1);
        int j = k0 + ((it >> 9) << 4) + (in >> 2);
        return pairOf(v, f16, vHalf, vBase + j * stride + c, safe, j < nk, c, width);
    }

    /** Pair {@code it} of the P tile: row (it % 512) / 8, keys 16 (it / 512) + 2 (it % 8) and the next. */
    private static int probabilityPair(FloatArray scratch, int sBase, int it) {
        int within = it & 511;
        int g = sBase + (within >> 3) * KEYS + ((it >> 9) << 4) + ((within & 7) << 1);
        return TensorCoreKernels.half(scratch, g) | (TensorCoreKernels.half(scratch, g + 1) << 16);
    }

    /** Scaled score of key {@code key0 + j} for the query; {@link KernelMath#MASKED} where masked or past nk. */
    private static float score(FloatArray scratch, int rowBase, int j, int key0, int nk, int query, int causal, float scale) {
        int key = key0 + j;
        boolean ok = (key < nk) & ((causal == 0) | (key <= query));
        float s = scratch.get(rowBase + j) * scale;
        return ok ? s : KernelMath.MASKED;
    }

    /** exp(s - max), exactly 0 for a masked score. */
    private static float weight(float s, float max) {
        return s > KernelMath.MASKED ? TornadoMath.exp(s - max) : 0.0f;
    }
}
