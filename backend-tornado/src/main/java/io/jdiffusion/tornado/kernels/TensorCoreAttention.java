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
 * on tensor cores, stored to the warp's 16x64 slice of {@code scratch} (global memory, L2-resident) for the
 * softmax on CUDA cores, then O += P V on tensor cores, accumulated in fragments across all key tiles.
 *
 * <p>Each lane reads back exactly the scores its own accumulator fragments held (rows lane / 4 and lane / 4 + 8 of
 * its warp's 16, keys 2 (lane % 4) and the next of each sub-tile of 8): no thread reads another's scores. Each
 * 16 x 8 sub-tile of S lies in 128 consecutive floats of scratch, so that one load or store of the 32 lanes touches
 * two 128-byte lines, not 8 (fragment rows 64 floats apart) or 32 (one thread per half row of S). The scores'
 * round trips were bound by L2 sectors, not bytes: at the UNet's first level the kernel went from 686 to 266 million
 * L2 sectors and from 6.8 to 2.4 ms on an H100 (docs/PERFORMANCE.md). A lane writes each weight over its score and
 * reads it back as F16 (TornadoVM rounds to F16 only a float it reads from a global array), and stores the pairs into
 * its warp's rows of the local P tile. Narrow heads (up to {@link #NARROW_HEAD}) load a tile's K^T and V in one
 * phase; wider ones keep V and P where K^T was, loaded after every warp's Q K^T.
 *
 * <p>Two barriers order memory for the compiler, not between threads: TornadoVM's fragment store is no memory kill
 * to Graal, so a barrier keeps the scores' reads after it, and another keeps each weight's F16 read from being
 * replaced by the float just written (the F16 rounding happens only on a read).
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
    /** Widest (padded) head whose Q, K, V and P tiles all fit local memory side by side. */
    public static final int NARROW_HEAD = 96;
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

    /** Ints of a 64 x 16 F16 tile block (one k block of Q or P, or 16 keys of V). */
    private static final int BLOCK_INTS = 512;
    /** Ints of the V chunk tile and of the P tile: 64 x 64 F16 each. */
    private static final int VP_INTS = QUERIES * KEYS / 2;
    /**
     * The local tiles, in ints: Q [64 x dp], K^T [dp x 64], V and P. Narrow heads (dp up to 96): 64 dp + 4096 ints;
     * wider ones (up to 160) put V and P where K^T starts: the larger of 64 dp and 32 dp + 4096 ints.
     */
    private static final int TILES_INTS = Math.max(2 * 32 * NARROW_HEAD + 2 * VP_INTS, 2 * 32 * MAX_HEAD);

    private TensorCoreAttention() {
    }

    /**
     * Grid: x = Q_BLOCKS work-groups of {@link #THREADS}, y = batch * heads, z = ceil(dv / 64). q [B, nq,
     * heads*d], k [B, nk, heads*d], v [B, nk, heads*dv], out [B, nq, heads*dv]. Operands in F16 activations:
     * q {@link Storage#X}, k {@link Storage#Y}, v {@link Storage#Z}, out {@link Storage#OUT}.
     */
    public static void attention(KernelContext ctx, HalfFloatArray f16, int halves, IntArray args, FloatArray q, FloatArray k,
                                 FloatArray v, FloatArray out, FloatArray scratch, IntArray sizes, float scale, int causal) {
        // offsets from the task's own array, not scalars, so that attentions of one head size share a compilation on the
        // CUDA backend (Storage)
        int qOff = args.get(0);
        int kOff = args.get(1);
        int vOff = args.get(2);
        int oOff = args.get(3);
        int meta = args.get(4);
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
        int lane = tid & 31;
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
        boolean wide = dp > NARROW_HEAD;
        // Where the tiles lie in local memory (ints): Q, then K^T, then V and P (over K^T for wide heads).
        int kTile = kPairs;
        int vTile = wide ? kTile : kTile + kPairs;
        int pTile = vTile + VP_INTS;
        // Sub-tiles of 8 value columns this chunk has: only those are loaded. P V multiplies all eight (no fragment is
        // taken through a branch); the columns of O past the chunk's are never written out.
        int subTiles = Math.min(8, (width + 7) >> 3);
        // The lane's fragment positions: rows r and r + 8 of its warp's 16, keys c2 and c2 + 1 of each sub-tile of 8.
        int r = lane >> 2;
        int c2 = (lane & 3) << 1;
        int rowLo = warp * 16 + r;
        int queryLo = q0 + rowLo;
        int queryHi = queryLo + 8;
        // The warp's scores: sub-tile j (keys 8j to 8j + 7) as 16 rows of 8 floats at sWarp + 128 j.
        int sWarp = sBase + warp * 16 * KEYS;
        int sLo = sWarp + r * 8 + c2;
        int sHi = sLo + 64;
        int sRow = (sWarp >> 3);
        // The lane's P pairs: row rowLo (rowLo + 8) of block j / 2, pair 4 (j % 2) + lane % 4.
        int pLo = pTile + rowLo * 8 + (lane & 3);
        int pHi = pLo + 64;
        // The four lanes that hold a row: their stats entries start at 2 * quad.
        int quad = tid & ~3;

        int[] tiles = ctx.allocateIntLocalArray(TILES_INTS);
        // [0, 2 THREADS): each lane's largest score of its two rows, then [2 THREADS, 4 THREADS): its sums of weights.
        float[] stats = ctx.allocateFloatLocalArray(4 * THREADS);
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
            tiles[idx] = pairOf(q, f16, qHalf, qBase + qi * qStride + c, qOff, qi < nq, c, d);
        }

        float shiftLo = 0.0f;
        float shiftHi = 0.0f;
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
            float seenLo = KernelMath.MASKED;
            float seenHi = KernelMath.MASKED;
            float sumLo = 0.0f;
            float sumHi = 0.0f;
            for (int k0 = 0; k0 < kEnd; k0 += KEYS) {
                // K^T as the B operand: [d / 16 blocks][8 sub-tiles of 8 keys][16 d rows][4 key pairs]; consecutive
                // threads read consecutive d of one key. Narrow heads load this tile's V beside it.
                for (int it = tid; it < kPairs; it += 2 * THREADS) {
                    tiles[kTile + kSlot(it)] = keyPair(k, f16, kHalf, kBase, kOff, it, k0, nk, qStride, d);
                    tiles[kTile + kSlot(it + THREADS)] = keyPair(k, f16, kHalf, kBase, kOff, it + THREADS, k0, nk, qStride, d);
                }
                for (int u = tid; u < VP_INTS && !wide; u += THREADS) {
                    if (valueSubTile(u) < subTiles) {
                        tiles[vTile + valueSlot(u)] = valuePair(v, f16, vHalf, vBase, vOff, u, k0, nk, vStride, width);
                    }
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
                    int bOff = (kTile << 2) + kb * 128;
                    HalfFloat[] fa = ctx.mmaLoadA(tiles, 16, kb * 128 + warp * 512);
                    s0 = ctx.mma(fa, ctx.mmaLoadB(tiles, 16, bOff), s0, MMAShape.M16N8K16);
                    s1 = ctx.mma(fa, ctx.mmaLoadB(tiles, 16, bOff + 256), s1, MMAShape.M16N8K16);
                    s2 = ctx.mma(fa, ctx.mmaLoadB(tiles, 16, bOff + 512), s2, MMAShape.M16N8K16);
                    s3 = ctx.mma(fa, ctx.mmaLoadB(tiles, 16, bOff + 768), s3, MMAShape.M16N8K16);
                    s4 = ctx.mma(fa, ctx.mmaLoadB(tiles, 16, bOff + 1024), s4, MMAShape.M16N8K16);
                    s5 = ctx.mma(fa, ctx.mmaLoadB(tiles, 16, bOff + 1280), s5, MMAShape.M16N8K16);
                    s6 = ctx.mma(fa, ctx.mmaLoadB(tiles, 16, bOff + 1536), s6, MMAShape.M16N8K16);
                    s7 = ctx.mma(fa, ctx.mmaLoadB(tiles, 16, bOff + 1792), s7, MMAShape.M16N8K16);
                }
                ctx.mmaStore(s0, scratch, sRow, 0, 8);
                ctx.mmaStore(s1, scratch, sRow + 16, 0, 8);
                ctx.mmaStore(s2, scratch, sRow + 32, 0, 8);
                ctx.mmaStore(s3, scratch, sRow + 48, 0, 8);
                ctx.mmaStore(s4, scratch, sRow + 64, 0, 8);
                ctx.mmaStore(s5, scratch, sRow + 80, 0, 8);
                ctx.mmaStore(s6, scratch, sRow + 96, 0, 8);
                ctx.mmaStore(s7, scratch, sRow + 112, 0, 8);
                // For the compiler: the scores' reads stay after the fragment stores.
                ctx.localBarrier();
                int key0 = k0 + c2;
                if (pass == 0 && k0 == 0) {
                    // The shift: each row's largest score in the first tile, over the four lanes that hold the row.
                    float firstLo = KernelMath.MASKED;
                    float firstHi = KernelMath.MASKED;
                    for (int j = 0; j < 8; j++) {
                        int at = j * 128;
                        int key = key0 + 8 * j;
                        firstLo = Math.max(firstLo, Math.max(score(scratch, sLo + at, key, nk, queryLo, causal, scale),
                                score(scratch, sLo + at + 1, key + 1, nk, queryLo, causal, scale)));
                        firstHi = Math.max(firstHi, Math.max(score(scratch, sHi + at, key, nk, queryHi, causal, scale),
                                score(scratch, sHi + at + 1, key + 1, nk, queryHi, causal, scale)));
                    }
                    stats[2 * tid] = firstLo;
                    stats[2 * tid + 1] = firstHi;
                    ctx.localBarrier();
                    shiftLo = Math.max(Math.max(stats[2 * quad], stats[2 * quad + 2]), Math.max(stats[2 * quad + 4], stats[2 * quad + 6]));
                    shiftHi = Math.max(Math.max(stats[2 * quad + 1], stats[2 * quad + 3]), Math.max(stats[2 * quad + 5], stats[2 * quad + 7]));
                }
                // Weights against the shift, written over the lane's own scores (F32: TornadoVM rounds to F16 only a
                // float it reads from an array).
                for (int j = 0; j < 8; j++) {
                    int at = j * 128;
                    int key = key0 + 8 * j;
                    float x0 = score(scratch, sLo + at, key, nk, queryLo, causal, scale);
                    float x1 = score(scratch, sLo + at + 1, key + 1, nk, queryLo, causal, scale);
                    float y0 = score(scratch, sHi + at, key, nk, queryHi, causal, scale);
                    float y1 = score(scratch, sHi + at + 1, key + 1, nk, queryHi, causal, scale);
                    seenLo = Math.max(seenLo, Math.max(x0, x1));
                    seenHi = Math.max(seenHi, Math.max(y0, y1));
                    float p0 = weight(x0, shiftLo);
                    float p1 = weight(x1, shiftLo);
                    float p2 = weight(y0, shiftHi);
                    float p3 = weight(y1, shiftHi);
                    sumLo += p0 + p1;
                    sumHi += p2 + p3;
                    scratch.set(sLo + at, p0);
                    scratch.set(sLo + at + 1, p1);
                    scratch.set(sHi + at, p2);
                    scratch.set(sHi + at + 1, p3);
                }
                // For the compiler (the weights' F16 reads below are reads, not the floats just written) and, for wide
                // heads, between threads: V and P go where K^T was, and every warp must be past its Q K^T.
                ctx.localBarrier();
                for (int u = tid; u < VP_INTS && wide; u += THREADS) {
                    if (valueSubTile(u) < subTiles) {
                        tiles[vTile + valueSlot(u)] = valuePair(v, f16, vHalf, vBase, vOff, u, k0, nk, vStride, width);
                    }
                }
                // P as the A operand: [4 blocks of 16 keys][64 rows][8 pairs], the lane's pairs read back as F16.
                for (int j = 0; j < 8; j++) {
                    int to = (j >> 1) * BLOCK_INTS + ((j & 1) << 2);
                    int at = j * 128;
                    tiles[pLo + to] = TensorCoreKernels.half(scratch, sLo + at) | (TensorCoreKernels.half(scratch, sLo + at + 1) << 16);
                    tiles[pHi + to] = TensorCoreKernels.half(scratch, sHi + at) | (TensorCoreKernels.half(scratch, sHi + at + 1) << 16);
                }
                ctx.localBarrier();
                int vBytes = vTile << 2;
                int pBytes = pTile << 2;
                for (int kb = 0; kb < 4; kb++) {
                    int bOff = vBytes + kb * 2048;
                    HalfFloat[] fa = ctx.mmaLoadA(tiles, 16, pBytes + kb * 2048 + warp * 512);
                    o0 = ctx.mma(fa, ctx.mmaLoadB(tiles, 16, bOff), o0, MMAShape.M16N8K16);
                    o1 = ctx.mma(fa, ctx.mmaLoadB(tiles, 16, bOff + 256), o1, MMAShape.M16N8K16);
                    o2 = ctx.mma(fa, ctx.mmaLoadB(tiles, 16, bOff + 512), o2, MMAShape.M16N8K16);
                    o3 = ctx.mma(fa, ctx.mmaLoadB(tiles, 16, bOff + 768), o3, MMAShape.M16N8K16);
                    o4 = ctx.mma(fa, ctx.mmaLoadB(tiles, 16, bOff + 1024), o4, MMAShape.M16N8K16);
                    o5 = ctx.mma(fa, ctx.mmaLoadB(tiles, 16, bOff + 1280), o5, MMAShape.M16N8K16);
                    o6 = ctx.mma(fa, ctx.mmaLoadB(tiles, 16, bOff + 1536), o6, MMAShape.M16N8K16);
                    o7 = ctx.mma(fa, ctx.mmaLoadB(tiles, 16, bOff + 1792), o7, MMAShape.M16N8K16);
                }
                // The next tile's K^T and V overwrite what this one read.
                ctx.localBarrier();
            }
            stats[2 * tid] = seenLo;
            stats[2 * tid + 1] = seenHi;
            stats[2 * THREADS + 2 * tid] = sumLo;
            stats[2 * THREADS + 2 * tid + 1] = sumHi;
            if (seenLo - shiftLo > SHIFT_SLACK || seenHi - shiftHi > SHIFT_SLACK) {
                rose[pass] = 1;
            }
            ctx.localBarrier();
            if (rose[pass] == 1) {
                // Again with the exact maxima found; the scores cannot rise above them.
                shiftLo = Math.max(Math.max(stats[2 * quad], stats[2 * quad + 2]), Math.max(stats[2 * quad + 4], stats[2 * quad + 6]));
                shiftHi = Math.max(Math.max(stats[2 * quad + 1], stats[2 * quad + 3]), Math.max(stats[2 * quad + 5], stats[2 * quad + 7]));
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
                    int row = e >> 6;
                    int c = e & 63;
                    int qi = q0 + row;
                    if (qi < nq && c < cols) {
                        // Row R's sums: the four lanes at 4 (R % 8) of warp R / 16, their first (R % 16 < 8) or second.
                        int at = 2 * THREADS + 2 * ((row >> 4) * 32 + ((row & 7) << 2)) + ((row >> 3) & 1);
                        float rowSum = (stats[at] + stats[at + 2]) + (stats[at + 4] + stats[at + 6]);
                        Storage.store(out, f16, oOff + (b * nq + qi) * vStride + h * dv + chunk * COLUMNS + c,
                                scratch.get(sBase + e) / rowSum, outHalf);
                    }
                }
            }
        }
    }

    /*
     * The V chunk of a key tile as the B operand: [4 blocks of 16 keys][8 sub-tiles of 8 columns][16 keys][4 pairs].
     * Pair u is key kk's columns 2 cp and 2 cp + 1, a warp's 32 pairs being 8 consecutive pairs of 4 keys: each load
     * touches 4 lines of V, each store 16 banks twice. Sub-tiles past the chunk's columns are not loaded: the columns
     * of O they give are never written out.
     */

    /** Column pair of V pair u. */
    private static int valueColumnPair(int u) {
        return (u & 7) | (((u >> 5) & 3) << 3);
    }

    /** Key (within the tile) of V pair u. */
    private static int valueKey(int u) {
        return ((u >> 3) & 3) | ((u >> 7) << 2);
    }

    /** Sub-tile of 8 columns of V pair u. */
    private static int valueSubTile(int u) {
        return valueColumnPair(u) >> 2;
    }

    /** Where V pair u goes in the tile. */
    private static int valueSlot(int u) {
        int cp = valueColumnPair(u);
        int kk = valueKey(u);
        return (kk >> 4) * BLOCK_INTS + (cp >> 2) * 64 + ((kk & 15) << 2) + (cp & 3);
    }

    /** V pair u of the tile at key k0: columns 2 cp, 2 cp + 1 of its key; 0 past nk or the chunk's width. */
    private static int valuePair(FloatArray v, HalfFloatArray f16, boolean vHalf, int vBase, int safe, int u, int k0, int nk,
                                 int stride, int width) {
        int j = k0 + valueKey(u);
        int c = valueColumnPair(u) << 1;
        return pairOf(v, f16, vHalf, vBase + j * stride + c, safe, j < nk, c, width);
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

    /** Scaled score at scratch[at], of key {@code key} for the query; {@link KernelMath#MASKED} where masked or past nk. */
    private static float score(FloatArray scratch, int at, int key, int nk, int query, int causal, float scale) {
        boolean ok = (key < nk) & ((causal == 0) | (key <= query));
        float s = scratch.get(at) * scale;
        return ok ? s : KernelMath.MASKED;
    }

    /** exp(s - max), exactly 0 for a masked score. */
    private static float weight(float s, float max) {
        return s > KernelMath.MASKED ? TornadoMath.exp(s - max) : 0.0f;
    }
}
