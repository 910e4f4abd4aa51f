package io.jdiffusion.cpu;

import io.jdiffusion.backend.graph.Op;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import static io.jdiffusion.cpu.CpuVectors.F;
import static io.jdiffusion.cpu.CpuVectors.FLOAT;
import static io.jdiffusion.cpu.CpuVectors.L;
import static io.jdiffusion.cpu.CpuVectors.ORDER;
import static io.jdiffusion.cpu.Gemm.MR;
import static io.jdiffusion.cpu.Gemm.NR;

/**
 * Attention over at most {@link #MAX_KEYS} keys (cross-attention over 77 text tokens, the text encoder's
 * causal 77 x 77 layer, self-attention over 256 and 1024 tokens) with the keys across the vector lanes: S = Q K^T and O = P V are two plain {@link Gemm} micro-kernel
 * products per {@link Gemm#MR} queries, with the query rows as the A operand read as they lie in Q, K^T
 * and V packed once per head as B panels, and every row's whole softmax in one pass.
 *
 * <p>Why not {@link AttentionKernel}'s layout (queries across the lanes) here: its scores come out
 * transposed, so each query block's Q^T and O^T are transposed by vector gathers, and over 77 keys those
 * transposes, the per-sub-block softmax and the short products cost as much as the arithmetic (45-55% of
 * one core's FMA peak for 4096 x 77, 25% for the causal 77 x 77 layer). Here the queries stay rows: Q is
 * read row by row, O is written row by row, and the one horizontal step is a max and a sum per query row.
 * With the causal mask a panel of MR queries multiplies only the keys its last query sees (rounded up to
 * NR), so the 77 x 77 layer does little more than its 3003 visible query-key pairs per head instead of
 * twice that. The price is padding: keys rounded up to NR and value channels to NR; {@link #fits} keeps
 * this path to shapes where the padding wastes at most a quarter of the products.
 */
final class ShortKeyAttention {
    /**
     * The most keys taken here: a panel's rows of scores stay in L1 (MR x 1024 floats, 24 KiB). Measured on
     * one AVX2 core: self-attention over 256 and 1024 tokens ran at 76-85% of the FMA peak here against
     * 55-67% in {@link AttentionKernel}; over 4096 tokens, level or slower, so longer sequences stay there.
     */
    static final int MAX_KEYS = 1024;
    /** Fewest useful multiply-adds per padded one (keys padded to NR, values to NR) for this path. */
    private static final double MIN_USEFUL_FRACTION = 0.75;
    /** Query panels (MR queries each) per task: the block's Q and output rows of all heads stay in L2. */
    private static final int PANELS_PER_TASK = 4;
    /**
     * Packed K^T and V floats per group of batch items (4 MiB). A larger item is a group of its own: at most
     * MAX_KEYS x (d + dv, padded) x heads floats, 10.5 MB for SDXL's 20 heads of 64 over 1024 tokens.
     */
    private static final long PACK_BUDGET_FLOATS = 1L << 20;

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private ShortKeyAttention() {
    }

    /** One thread's buffers for a query panel: its Q rows, its scores (then P), its output tile. */
    private static final class Scratch {
        float[] q = new float[0];
        float[] p = new float[0];
        float[] o = new float[0];
        float[] qBlock = new float[0];
        float[] oBlock = new float[0];
        final float[] inverseSum = new float[MR];
        final float[] shift = new float[MR * L];
        final float[] sum = new float[MR * L];

        float[] row = new float[0];

        float[] row(int n) {
            if (row.length < n) {
                row = new float[n];
            }
            return row;
        }

        void ensure(int d, int nkPad, int dvPad, int qBlockFloats, int oBlockFloats) {
            if (qBlock.length < qBlockFloats) {
                qBlock = new float[qBlockFloats];
            }
            if (oBlock.length < oBlockFloats) {
                oBlock = new float[oBlockFloats];
            }
            if (q.length < MR * d) {
                q = new float[MR * d];
            }
            if (p.length < MR * nkPad) {
                p = new float[MR * nkPad];
            }
            if (o.length < MR * dvPad) {
                o = new float[MR * dvPad];
            }
        }
    }

    /** The problem's sizes as the tasks see them. */
    private record Geometry(int nq, int nk, int nkPad, int heads, int d, int dv, int vPanels, boolean causal) {
        /** Floats of one head's packed K^T: nkPad / NR panels of d x NR. */
        int kFloats() {
            return nkPad * d;
        }

        /** Floats of one head's packed V: vPanels panels of nkPad x NR. */
        int vFloats() {
            return vPanels * nkPad * NR;
        }

        int dvPad() {
            return vPanels * NR;
        }
    }

    /**
     * Whether this path takes attention over {@code nk} keys with heads of {@code d} and {@code dv}: at most
     * {@link #MAX_KEYS} keys, and padding keys and value channels to NR wastes at most a quarter of the two
     * products (at 256-bit vectors all of SD's and CLIP's shapes pass; at 512 bits heads of 40 over 77 keys,
     * 62% useful, stay with {@link AttentionKernel}).
     */
    static boolean fits(int nk, int d, int dv) {
        if (nk > MAX_KEYS) {
            return false;
        }
        int nkPad = roundUp(nk, NR);
        double useful = (double) nk * (d + dv);
        double done = (double) nkPad * d + (double) roundUp(dv, NR) * nkPad;
        return useful >= MIN_USEFUL_FRACTION * done;
    }

    private static int roundUp(int n, int step) {
        return (n + step - 1) / step * step;
    }

    static Kernel compile(Op.Attention op, CompileContext ctx) {
        AttentionSizes z = AttentionSizes.of(op);
        int batch = z.batch(), nq = z.nq(), nk = z.nk(), heads = z.heads(), d = z.d(), dv = z.dv();
        Geometry g = new Geometry(nq, nk, roundUp(nk, NR), heads, d, dv, (dv + NR - 1) / NR, op.causal());
        float qScale = op.scale() * VectorMath.LOG2E;
        int q = op.q().id(), k = op.k().id(), v = op.v().id(), out = op.out().id();
        WorkerPool pool = ctx.pool;
        Workspace ws = ctx.workspace;
        long perItem = ((long) g.kFloats() + g.vFloats()) * heads;
        int group = (int) Math.max(1, Math.min(batch, PACK_BUDGET_FLOATS / perItem));
        int panels = Gemm.panelsA(nq);
        int blocks = (panels + PANELS_PER_TASK - 1) / PANELS_PER_TASK;
        return buffers -> {
            MemorySegment qs = buffers[q], ks = buffers[k], vs = buffers[v], os = buffers[out];
            float[] kp = ws.get(Workspace.Slot.PACK_B, (long) group * heads * g.kFloats());
            float[] vp = ws.get(Workspace.Slot.PACK_A, (long) group * heads * g.vFloats());
            for (int first = 0; first < batch; first += group) {
                int b0 = first, count = Math.min(group, batch - first);
                pool.forEach(count * heads, slot -> pack(ks, vs, b0 + slot / heads, slot % heads, g,
                        kp, slot * g.kFloats(), vp, slot * g.vFloats()));
                pool.forEach(count * blocks, task -> {
                    int slot = task / blocks;
                    int p0 = task % blocks * PANELS_PER_TASK;
                    queryBlock(qs, os, b0 + slot, p0 * MR, Math.min(panels, p0 + PANELS_PER_TASK) * MR, g, qScale,
                            kp, slot * heads * g.kFloats(), vp, slot * heads * g.vFloats());
                });
            }
        };
    }

    /**
     * Packs head h of batch item b: K^T as Gemm B panels (panel p, channel c, key p * NR + j at
     * {@code kBase + p * d * NR + c * NR + j}) and V as Gemm B panels of NR value channels (panel p, key j,
     * channel p * NR + c at {@code vBase + p * nkPad * NR + j * NR + c}); zero past nk and past dv.
     */
    private static void pack(MemorySegment k, MemorySegment v, int b, int h, Geometry g,
                             float[] kp, int kBase, float[] vp, int vBase) {
        int d = g.d(), dv = g.dv(), nkPad = g.nkPad();
        float[] row = SCRATCH.get().row(d);
        Arrays.fill(kp, kBase, kBase + g.kFloats(), 0f);
        Arrays.fill(vp, vBase, vBase + g.vFloats(), 0f);
        for (int j = 0; j < g.nk(); j++) {
            long keyRow = (long) b * g.nk() + j;
            load(k, keyRow * g.heads() * d + (long) h * d, d, row);
            int kPanel = kBase + j / NR * d * NR + j % NR;
            for (int c = 0; c < d; c++) {
                kp[kPanel + c * NR] = row[c];
            }
            long vRow = 4 * (keyRow * g.heads() * dv + (long) h * dv);
            int c = 0;
            for (; c <= dv - L; c += L) { // channel c of key j: panel c / NR, lane c % NR
                FloatVector.fromMemorySegment(F, v, vRow + 4L * c, ORDER).intoArray(vp, vBase + c / NR * nkPad * NR + j * NR + c % NR);
            }
            for (; c < dv; c++) {
                vp[vBase + c / NR * nkPad * NR + j * NR + c % NR] = v.get(FLOAT, vRow + 4L * c);
            }
        }
    }

    /** {@code n} floats of {@code src} from element {@code from} to {@code dst} from 0, by vectors (a row copy call costs more at these sizes). */
    private static void load(MemorySegment src, long from, int n, float[] dst) {
        int c = 0;
        for (; c <= n - L; c += L) {
            FloatVector.fromMemorySegment(F, src, 4 * (from + c), ORDER).intoArray(dst, c);
        }
        for (; c < n; c++) {
            dst[c] = src.get(FLOAT, 4 * (from + c));
        }
    }

    /**
     * Queries [i0, i1) of batch item b, all heads: their Q rows are one contiguous run of the input and their
     * output rows one of the output, so each is moved by one bulk copy (streamed, instead of a cache miss per
     * head's slice of a row), and the heads read and write them in L1/L2.
     */
    private static void queryBlock(MemorySegment qs, MemorySegment os, int b, int i0, int i1, Geometry g, float qScale,
                                   float[] kp, int kBase, float[] vp, int vBase) {
        int rows = Math.min(i1, g.nq()) - i0;
        int qRow = g.heads() * g.d(), oRow = g.heads() * g.dv();
        Scratch s = SCRATCH.get();
        s.ensure(g.d(), g.nkPad(), g.dvPad(), (i1 - i0) * qRow, (i1 - i0) * oRow);
        MemorySegment.copy(qs, FLOAT, 4 * ((long) b * g.nq() + i0) * qRow, s.qBlock, 0, rows * qRow);
        for (int h = 0; h < g.heads(); h++) {
            for (int q0 = 0; q0 < rows; q0 += MR) {
                queryPanel(s, i0 + q0, q0, Math.min(MR, rows - q0), h, g, qScale,
                        kp, kBase + h * g.kFloats(), vp, vBase + h * g.vFloats());
            }
        }
        MemorySegment.copy(s.oBlock, 0, os, FLOAT, 4 * ((long) b * g.nq() + i0) * oRow, rows * oRow);
    }

    /**
     * Queries [first, first + rows) (rows <= MR) of head h, row {@code local} of the block on: scores,
     * softmax, P V, each output row written once into the block.
     */
    private static void queryPanel(Scratch s, int first, int local, int rows, int h, Geometry g, float qScale,
                                   float[] kp, int kBase, float[] vp, int vBase) {
        int d = g.d(), dv = g.dv(), dvPad = g.dvPad(), nkPad = g.nkPad();
        float[] qa = s.q, p = s.p, o = s.o;
        int qRow = g.heads() * d, oRow = g.heads() * dv;
        for (int r = 0; r < rows; r++) {
            scaled(s.qBlock, (local + r) * qRow + h * d, d, qScale, qa, r * d);
        }
        Arrays.fill(qa, rows * d, MR * d, 0f);
        // The keys the panel's last query can see, whole B panels: the width of S and the depth of P V.
        int seenByPanel = g.causal() ? Math.min(g.nk(), first + rows) : g.nk();
        int width = roundUp(seenByPanel, NR);
        for (int c = 0; c < width; c += NR) {
            Gemm.kernel(qa, 0, kp, kBase + c * d, d, p, c, width);
        }
        for (int r = 0; r < MR; r++) {
            maskAfter(p, r * width, g.causal() ? Math.min(seenByPanel, first + r + 1) : g.nk(), width);
        }
        softmaxRows(p, width, s.shift, s.sum, s.inverseSum);
        for (int c = 0; c < dvPad; c += NR) {
            Gemm.kernel(p, 0, vp, vBase + c * nkPad, width, o, c, dvPad);
        }
        for (int r = 0; r < rows; r++) {
            scaled(o, r * dvPad, dv, s.inverseSum[r], s.oBlock, (local + r) * oRow + h * dv);
        }
    }

    /**
     * Replaces each of the MR rows of scores (row r at {@code r * width}, width a multiple of L, masked keys
     * -infinity) by 2^(s - the row's max), and {@code inverseSum[r]} by 1 / the row's sum. The rows go
     * through each pass (maxima, exponentials, sums) together: short rows' dependency chains overlap, and
     * the exponentials' loop is set up once.
     */
    private static void softmaxRows(float[] p, int width, float[] shift, float[] sum, float[] inverseSum) {
        for (int r = 0, at = 0; r < MR; r++, at += width) {
            FloatVector m0 = FloatVector.fromArray(F, p, at), m1 = m0;
            int j = L;
            for (; j + L < width; j += 2 * L) {
                m0 = m0.max(FloatVector.fromArray(F, p, at + j));
                m1 = m1.max(FloatVector.fromArray(F, p, at + j + L));
            }
            if (j < width) {
                m0 = m0.max(FloatVector.fromArray(F, p, at + j));
            }
            FloatVector.broadcast(F, m0.max(m1).reduceLanes(VectorOperators.MAX)).intoArray(shift, r * L);
        }
        VectorMath.exp2NonPositive(p, 0, MR, width, width / L, L, shift, 0, sum, 0);
        for (int r = 0; r < MR; r++) { // in lane order, scalar: the same bits in every tier, and the rows' chains overlap
            float total = sum[r * L];
            for (int i = 1; i < L; i++) {
                total += sum[r * L + i];
            }
            inverseSum[r] = 1f / total;
        }
    }

    /** Scores of keys [seen, width) of the row at {@code at} become -infinity (whole vectors, one blended). */
    private static void maskAfter(float[] p, int at, int seen, int width) {
        int first = seen / L * L;
        if (first >= width) {
            return;
        }
        FloatVector minusInf = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        minusInf.blend(FloatVector.fromArray(F, p, at + first), F.indexInRange(first, seen)).intoArray(p, at + first);
        for (int j = first + L; j < width; j += L) {
            minusInf.intoArray(p, at + j);
        }
    }

    /** dst[to + i] = src[from + i] * scale for i in [0, n). */
    private static void scaled(float[] src, int from, int n, float scale, float[] dst, int to) {
        int c = 0;
        for (; c <= n - L; c += L) {
            FloatVector.fromArray(F, src, from + c).mul(scale).intoArray(dst, to + c);
        }
        for (; c < n; c++) {
            dst[to + c] = src[from + c] * scale;
        }
    }
}
