package io.jdiffusion.cpu;

import io.jdiffusion.backend.graph.Op;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

import static io.jdiffusion.cpu.CpuVectors.F;
import static io.jdiffusion.cpu.CpuVectors.FLOAT;
import static io.jdiffusion.cpu.CpuVectors.L;

/**
 * Flash attention: softmax(q k^T * scale) v per head, tiled over keys with an online softmax, so the
 * Nq x Nk score matrix never exists.
 *
 * <p>The query rows of a sub-block lie across the vector lanes: a sub-block is {@link BroadcastKernel#COLS}
 * queries, and both products run on {@link BroadcastKernel}'s 2 x 6-vector register tile with the keys as
 * its A operand. Scores come out transposed, S^T (keys x queries) = K Q^T, with K as A and the
 * sub-block's Q^T as one B panel; P^T = exp(S^T - max) is then itself the B panel of O^T (values x
 * queries) = V^T P^T, with V as A. So each query's running max, sum and rescale factor is one lane of a
 * vector: the softmax needs no horizontal reductions. The tile broadcasts its A values from K's and V's
 * rows as they are (two broadcasts per twelve FMAs cost nothing measurable), so K and V are only copied,
 * compact, once per head (until 2026-12-05 they were stored pre-broadcast, L times larger: 160 KB per
 * head of 77 keys, which the text encoder's 77 x 77 layer spent more time writing than computing). Q^T
 * and the output rows are transposed by vector gathers. Q is pre-scaled by scale * log2(e), so the
 * exponentials are powers of two ({@link VectorMath#exp2NonPositive}).
 *
 * <p>Keys are walked in tiles of {@link #KEY_TILE}; a query block of up to {@link #SUB_BLOCKS} sub-blocks
 * takes each tile in turn, so the tile's K and V stay in L1 or L2 while the sub-blocks use them. When a
 * tile raises a query's max, its partial output and sum are rescaled by 2^(max_old - max_new). Up to
 * 1024 keys (cross-attention over 77 text tokens, the text encoder's causal layer, self-attention over 256
 * and 1024 tokens) go to {@link ShortKeyAttention} where its padding allows ({@link ShortKeyAttention#fits}),
 * so this kernel runs self-attention over 4096 tokens and shapes whose padding would waste more; up to
 * {@link #ONE_TILE_KEYS} keys
 * are one tile here: a plain whole-row softmax whose P V is written straight to the output. Keys past the end and, with the causal mask,
 * keys after the query get score -infinity, and a sub-block's products stop at its last visible key.
 * Heads are packed in groups of at most {@link #PACK_BUDGET_FLOATS} floats, so the packed copies stay
 * bounded (one head of 4096 tokens of 40 + 40 is 1.3 MiB) while the tasks of a group, (head, query
 * block) pairs, are handed out dynamically.
 */
final class AttentionKernel {
    /** Keys of a K tile and value channels of a V tile: the register tile's rows. */
    private static final int R = BroadcastKernel.ROWS;
    /** Queries per sub-block: the tile's columns. */
    private static final int Q = BroadcastKernel.COLS;
    /** Keys per tile (a multiple of R): a tile's scores (KEY_TILE x Q floats) stay in L1 for the softmax and P V. */
    private static final int KEY_TILE = 64;
    /** Up to this many keys (rounded up to R) make one tile, and the online rescaling never happens. */
    private static final int ONE_TILE_KEYS = 160;
    /** Sub-blocks of Q queries per task: each packed key tile is reused this many times from L2. */
    private static final int SUB_BLOCKS = 2;
    /** Packed K and V floats per head group (4 MiB; a larger head is a group of its own). */
    private static final long PACK_BUDGET_FLOATS = 1L << 20;
    /** Lane r holds r: the query offset of each lane within its vector, for the causal mask. */
    private static final float[] LANE_INDEX = laneIndex();
    /** Lane i gathers from Q * i further on: a vector of one O^T column, L value channels of one query. */
    private static final int[] O_GATHER = strides(Q);

    /** Counts kernel runs, so each thread's scratch finds its aligned starts once per run ({@link Scratch#ensure}). */
    private static final AtomicLong RUNS = new AtomicLong();

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private AttentionKernel() {
    }

    /** {0, step, 2 step, ...}: the offsets of a gather of L values {@code step} apart. */
    static int[] strides(int step) {
        int[] a = new int[L];
        for (int i = 0; i < L; i++) {
            a[i] = i * step;
        }
        return a;
    }

    private static float[] laneIndex() {
        float[] a = new float[L];
        for (int i = 0; i < L; i++) {
            a[i] = i;
        }
        return a;
    }

    /**
     * One thread's state for a query block: per sub-block Q^T, O^T, running max and sum, rescale factors.
     * The arrays the products read and write by whole vectors (Q^T, O^T, the scores, the tile) are used from
     * their first vector-aligned element ({@link VectorAlignment}), L - 1 spare elements each.
     */
    private static final class Scratch {
        float[] qT = new float[0];
        float[] oT = new float[0];
        float[] s = new float[0];
        float[] row = new float[0];
        final float[] tile = new float[R * Q + L - 1];
        /** The first vector-aligned element of qT, oT, s and tile. */
        int qT0;
        int oT0;
        int s0;
        int tile0;
        final float[] max = new float[SUB_BLOCKS * Q];
        final float[] sum = new float[SUB_BLOCKS * Q];
        final float[] alpha = new float[SUB_BLOCKS * Q];
        /** Per lane, the sum of a tile's exponentials. */
        final float[] pSum = new float[Q];

        /** The run whose placement of the arrays qT0 ... tile0 reflect. */
        long alignedFor = -1;

        /** Grows the arrays as needed; once per run (a GC may have moved them since) finds their aligned starts. */
        void ensure(int d, int dvRows, int tileKeys, long run) {
            boolean grown = false;
            if (qT.length < SUB_BLOCKS * d * Q + L - 1) {
                qT = new float[SUB_BLOCKS * d * Q + L - 1];
                grown = true;
            }
            if (oT.length < SUB_BLOCKS * dvRows * Q + L - 1) {
                oT = new float[SUB_BLOCKS * dvRows * Q + L - 1];
                grown = true;
            }
            if (s.length < tileKeys * Q + L - 1) {
                s = new float[tileKeys * Q + L - 1];
                grown = true;
            }
            if (row.length < Q * Math.max(d, dvRows)) {
                row = new float[Q * Math.max(d, dvRows)];
            }
            if (grown || alignedFor != run) {
                alignedFor = run;
                qT0 = VectorAlignment.firstAligned(qT);
                oT0 = VectorAlignment.firstAligned(oT);
                s0 = VectorAlignment.firstAligned(s);
                tile0 = VectorAlignment.firstAligned(tile);
            }
        }
    }

    /** The problem's sizes as the tasks see them. */
    private record Geometry(int nq, int nk, int nkPad, int tileKeys, int heads, int d, int dv, int dvRows, boolean causal,
                            int[] qGather) {
        /** Floats of one head's packed K. */
        int kFloats() {
            return nkPad * d;
        }

        /** Floats of one head's packed V. */
        int vFloats() {
            return nkPad * dvRows;
        }
    }

    static Kernel compile(Op.Attention op, CompileContext ctx) {
        AttentionSizes z = AttentionSizes.of(op);
        int batch = z.batch(), nq = z.nq(), nk = z.nk(), heads = z.heads(), d = z.d(), dv = z.dv();
        if (ShortKeyAttention.fits(nk, d, dv)) {
            return ShortKeyAttention.compile(op, ctx);
        }
        int nkPad = (nk + R - 1) / R * R;
        Geometry g = new Geometry(nq, nk, nkPad, nkPad <= ONE_TILE_KEYS ? nkPad : KEY_TILE, heads, d, dv,
                (dv + R - 1) / R * R, op.causal(), strides(d));
        float qScale = op.scale() * VectorMath.LOG2E;
        int q = op.q().id(), k = op.k().id(), v = op.v().id(), out = op.out().id();
        WorkerPool pool = ctx.pool;
        Workspace ws = ctx.workspace;
        long perHead = (long) g.kFloats() + g.vFloats();
        int group = (int) Math.max(1, Math.min(batch * heads, PACK_BUDGET_FLOATS / perHead));
        int blockRows = SUB_BLOCKS * Q;
        int blocks = (nq + blockRows - 1) / blockRows;
        int tiles = (nkPad + g.tileKeys() - 1) / g.tileKeys();
        return buffers -> {
            MemorySegment qs = buffers[q], ks = buffers[k], vs = buffers[v], os = buffers[out];
            long run = RUNS.incrementAndGet();
            float[] kp = ws.get(Workspace.Slot.PACK_B, (long) group * g.kFloats());
            float[] vp = ws.get(Workspace.Slot.PACK_A, (long) group * g.vFloats());
            for (int first = 0; first < batch * heads; first += group) {
                int bh0 = first, count = Math.min(group, batch * heads - first);
                pool.forEach(count * tiles, task -> {
                    int bh = bh0 + task / tiles, slot = task / tiles;
                    int t0 = task % tiles * g.tileKeys();
                    pack(ks, vs, bh / heads, bh % heads, t0, g, kp, slot * g.kFloats(), vp, slot * g.vFloats());
                });
                pool.forEach(count * blocks, task -> {
                    int bh = bh0 + task / blocks, slot = task / blocks;
                    queryBlock(run, qs, os, bh / heads, bh % heads, task % blocks * blockRows, g, qScale,
                            kp, slot * g.kFloats(), vp, slot * g.vFloats());
                });
            }
        };
    }

    /**
     * Copies keys [t0, t0 + tile) of head h, row-major and compact: K's row j at {@code kBase + j * d}, V's
     * at {@code vBase + j * dvRows}; zero past nk and past dv, so padded keys and value channels stay finite.
     */
    private static void pack(MemorySegment k, MemorySegment v, int b, int h, int t0, Geometry g,
                             float[] kp, int kBase, float[] vp, int vBase) {
        int d = g.d(), dv = g.dv(), dvRows = g.dvRows();
        int end = Math.min(t0 + g.tileKeys(), g.nkPad());
        for (int j = t0; j < end; j++) {
            if (j < g.nk()) {
                long row = (long) b * g.nk() + j;
                MemorySegment.copy(k, FLOAT, 4 * (row * g.heads() * d + (long) h * d), kp, kBase + j * d, d);
                MemorySegment.copy(v, FLOAT, 4 * (row * g.heads() * dv + (long) h * dv), vp, vBase + j * dvRows, dv);
                Arrays.fill(vp, vBase + j * dvRows + dv, vBase + (j + 1) * dvRows, 0f);
            } else {
                Arrays.fill(kp, kBase + j * d, kBase + (j + 1) * d, 0f);
                Arrays.fill(vp, vBase + j * dvRows, vBase + (j + 1) * dvRows, 0f);
            }
        }
    }

    /** Queries [i0, i0 + SUB_BLOCKS * Q) of head h (fewer at the end), sub-block by sub-block within each key tile. */
    private static void queryBlock(long run, MemorySegment qs, MemorySegment os, int b, int h, int i0, Geometry g, float qScale,
                                   float[] kp, int kBase, float[] vp, int vBase) {
        int d = g.d(), dvRows = g.dvRows();
        int subBlocks = Math.min(SUB_BLOCKS, (g.nq() - i0 + Q - 1) / Q);
        Scratch s = SCRATCH.get();
        s.ensure(d, dvRows, g.tileKeys(), run);
        float[] qT = s.qT, oT = s.oT, scores = s.s, row = s.row;
        int keysPaddedMax = 0;
        for (int sb = 0; sb < subBlocks; sb++) {
            int q0 = i0 + sb * Q, rows = Math.min(Q, g.nq() - q0);
            transposeQuery(qs, (((long) b * g.nq() + q0) * g.heads()) * d + (long) h * d, (long) g.heads() * d, rows,
                    d, qScale, g.qGather(), row, qT, s.qT0 + sb * d * Q);
            keysPaddedMax = Math.max(keysPaddedMax, keysPadded(g, q0));
        }
        Arrays.fill(s.max, Float.NEGATIVE_INFINITY);
        Arrays.fill(s.sum, 0f);
        for (int t0 = 0; t0 < keysPaddedMax; t0 += g.tileKeys()) {
            int w = Math.min(g.tileKeys(), g.nkPad() - t0);
            int vTile = vBase + t0 * dvRows;
            for (int sb = 0; sb < subBlocks; sb++) {
                int q0 = i0 + sb * Q;
                int used = Math.min(w, keysPadded(g, q0) - t0); // keys scored, and the depth of P V
                if (used <= 0) {
                    continue;
                }
                for (int p = 0; p < used; p += R) {
                    BroadcastKernel.kernel(kp, kBase + (t0 + p) * d, d, 1, qT, s.qT0 + sb * d * Q, d, scores, s.s0 + p * Q, Q);
                }
                mask(scores, s.s0, t0, used, q0, g.nk(), g.causal());
                softmaxUpdate(scores, s.s0, used, s.max, s.sum, s.alpha, s.pSum, sb * Q);
                for (int c = 0; c < dvRows; c += R) {
                    int o = s.oT0 + (sb * dvRows + c) * Q;
                    if (t0 == 0) { // the first tile: O^T is this P V (O^T * alpha + P V with O^T = 0)
                        BroadcastKernel.kernel(vp, vTile + c, 1, dvRows, scores, s.s0, used, oT, o, Q);
                    } else {
                        BroadcastKernel.kernel(vp, vTile + c, 1, dvRows, scores, s.s0, used, s.tile, s.tile0, Q);
                        rescaleAdd(oT, o, s.tile, s.tile0, s.alpha, sb * Q);
                    }
                }
            }
        }
        for (int sb = 0; sb < subBlocks; sb++) {
            int q0 = i0 + sb * Q;
            store(oT, s.oT0 + sb * dvRows * Q, s.sum, sb * Q, Math.min(Q, g.nq() - q0), O_GATHER, row, os,
                    (((long) b * g.nq() + q0) * g.heads()) * g.dv() + (long) h * g.dv(), (long) g.heads() * g.dv(), g.dv());
        }
    }

    /** Keys [0, result) can matter to the sub-block from query q0: all of them, or with the causal mask those up to its last query; whole R panels. */
    private static int keysPadded(Geometry g, int q0) {
        int lastKey = g.causal() ? Math.min(g.nk(), q0 + Q) : g.nk();
        return (lastKey + R - 1) / R * R;
    }

    /**
     * Scores of keys past nk, and with the causal mask of keys after the query, become -infinity: rows
     * [0, used) of a tile from key t0 (row j at {@code base + j * Q}), lane r of a row being query i0 + r.
     */
    private static void mask(float[] scores, int base, int t0, int used, int i0, int nk, boolean causal) {
        FloatVector minusInf = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int first = Math.max(0, Math.min(used, (causal ? Math.min(nk, i0 + 1) : nk) - t0));
        for (int j = first; j < used; j++) {
            int key = t0 + j;
            for (int half = 0; half < Q; half += L) {
                int o = base + j * Q + half;
                if (key >= nk) {
                    minusInf.intoArray(scores, o);
                } else {
                    // query i0 + half + lane sees the key when key <= query
                    VectorMask<Float> after = FloatVector.fromArray(F, LANE_INDEX, 0).lt(key - i0 - half);
                    FloatVector.fromArray(F, scores, o).blend(minusInf, after).intoArray(scores, o);
                }
            }
        }
    }

    /**
     * Online softmax over {@code used} keys of a tile, each query a lane: new running max, p = 2^(s - max)
     * written over the scores, running sum rescaled and extended; alpha = 2^(max_old - max_new) is what
     * each query's partial output must be scaled by (0 on the first tile, where the old max is -infinity).
     */
    private static void softmaxUpdate(float[] scores, int base, int used, float[] max, float[] sum, float[] alpha, float[] pSum, int at) {
        for (int c = 0; c < Q; c += L) {
            FloatVector.fromArray(F, max, at + c).intoArray(alpha, at + c);
            rowMax(scores, used, base + c, max, at + c);
        }
        for (int c = 0; c < Q; c += L) {
            VectorMath.exp2NonPositive(alpha, at + c, 1, 0, 1, 0, max, at + c, pSum, c);
            VectorMath.exp2NonPositive(scores, base + c, 1, 0, used, Q, max, at + c, pSum, c);
            FloatVector.fromArray(F, sum, at + c).fma(FloatVector.fromArray(F, alpha, at + c), FloatVector.fromArray(F, pSum, c))
                    .intoArray(sum, at + c);
        }
    }

    /**
     * max[at + lanes] = the running max of the queries in lanes [c, c + L) over {@code used} keys, starting from
     * max's own lanes. Arrays in and out, no vector across the call: where C2 left this method out of its caller
     * (it did in some JVMs), a vector argument and result were boxed, and the loop's vectors with them, 21 MB per
     * 256x256 UNet call (JFR allocation samples, 2026-12-06).
     */
    private static void rowMax(float[] scores, int used, int c, float[] max, int at) {
        FloatVector m0 = FloatVector.fromArray(F, max, at), m1 = FloatVector.fromArray(F, scores, c);
        int j = 0;
        for (; j + 1 < used; j += 2) {
            m0 = m0.max(FloatVector.fromArray(F, scores, j * Q + c));
            m1 = m1.max(FloatVector.fromArray(F, scores, (j + 1) * Q + c));
        }
        for (; j < used; j++) {
            m0 = m0.max(FloatVector.fromArray(F, scores, j * Q + c));
        }
        m0.max(m1).intoArray(max, at);
    }

    /** o[from + r*Q + lanes] = o * alpha + tile[tile0 + r*Q + lanes] for the R rows of one V^T panel: the partial output rescaled and extended. */
    private static void rescaleAdd(float[] o, int from, float[] tile, int tile0, float[] alpha, int at) {
        for (int c = 0; c < Q; c += L) {
            FloatVector a = FloatVector.fromArray(F, alpha, at + c);
            for (int r = 0; r < R; r++) {
                int oi = from + r * Q + c;
                FloatVector.fromArray(F, o, oi).fma(a, FloatVector.fromArray(F, tile, tile0 + r * Q + c)).intoArray(o, oi);
            }
        }
    }

    /**
     * Q^T of a sub-block as one B panel (row c at {@code at + c * Q}), scaled by {@code scale}: query r's d
     * values are at {@code from + r * rowStride} in {@code q}; lanes past the last of {@code rows} queries are
     * zero. The rows are copied to {@code rowsBuf} (Q x d) and each vector of Q^T gathered from it.
     */
    private static void transposeQuery(MemorySegment q, long from, long rowStride, int rows, int d, float scale,
                                       int[] gather, float[] rowsBuf, float[] qT, int at) {
        for (int r = 0; r < rows; r++) {
            MemorySegment.copy(q, FLOAT, 4 * (from + r * rowStride), rowsBuf, r * d, d);
        }
        Arrays.fill(rowsBuf, rows * d, Q * d, 0f);
        FloatVector s = FloatVector.broadcast(F, scale); // made once: a scalar operand is broadcast on each use
        for (int c = 0; c < d; c++) {
            for (int v = 0; v < Q; v += L) {
                FloatVector.fromArray(F, rowsBuf, v * d + c, gather, 0).mul(s).intoArray(qT, at + c * Q + v);
            }
        }
    }

    /**
     * out row of query r (r < rows), from element {@code dst + r * rowStride}: O^T's column r divided by its
     * sum, L value channels at a time gathered from O^T (lane i from {@code Q * i} further on, {@code gather}).
     */
    private static void store(float[] oT, int from, float[] sum, int at, int rows, int[] gather, float[] row, MemorySegment out,
                              long dst, long rowStride, int dv) {
        for (int half = 0; half < Q; half += L) {
            FloatVector.broadcast(F, 1f).div(FloatVector.fromArray(F, sum, at + half)).intoArray(sum, at + half);
        }
        int vectorEnd = dv / L * L;
        for (int r = 0; r < rows; r++) {
            float inv = sum[at + r];
            FloatVector invs = FloatVector.broadcast(F, inv);
            for (int c = 0; c < vectorEnd; c += L) {
                FloatVector.fromArray(F, oT, from + c * Q + r, gather, 0).mul(invs).intoArray(row, c);
            }
            for (int c = vectorEnd; c < dv; c++) {
                row[c] = oT[from + c * Q + r] * inv;
            }
            MemorySegment.copy(row, 0, out, FLOAT, 4 * (dst + r * rowStride), dv);
        }
    }
}
