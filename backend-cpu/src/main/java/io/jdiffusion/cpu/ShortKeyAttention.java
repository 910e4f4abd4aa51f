package io.jdiffusion.cpu;

import io.jdiffusion.backend.graph.Op;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

import static io.jdiffusion.cpu.CpuVectors.F;
import static io.jdiffusion.cpu.CpuVectors.FLOAT;
import static io.jdiffusion.cpu.CpuVectors.L;
import static io.jdiffusion.cpu.CpuVectors.ORDER;
import static io.jdiffusion.cpu.Gemm.MR;
import static io.jdiffusion.cpu.Gemm.NR;
import static io.jdiffusion.cpu.Gemm.roundUp;

/**
 * Attention over at most {@link #MAX_KEYS} keys (cross-attention over 77 text tokens, the text encoder's
 * causal 77 x 77 layer, self-attention over 256 and 1024 tokens) with the keys across the vector lanes:
 * S = Q K^T and O = P V are two plain {@link Gemm} micro-kernel products per {@link Gemm#MR} queries, with the
 * query rows as the A operand read as they lie in a block of Q, K^T (times the softmax scale) and V packed
 * once per head as B panels, and every row's whole softmax in one pass: the maxima, the exponentials, the
 * sums, and the division on the output rows.
 *
 * <p>Why not {@link AttentionKernel}'s layout (queries across the lanes) here: its scores come out
 * transposed, so each query block's Q^T and O^T are transposed by vector gathers, and over 77 keys those
 * transposes, the per-sub-block softmax and the short products cost as much as the arithmetic (45-55% of
 * one core's FMA peak for 4096 x 77, 25% for the causal 77 x 77 layer). Here the queries stay rows: Q is
 * read row by row, O is written row by row, and the one horizontal step is a max and a sum per query row.
 * With the causal mask a panel of MR queries multiplies only the keys its last query sees (rounded up to
 * a whole vector), so the 77 x 77 layer does little more than its 3003 visible query-key pairs per head instead of
 * twice that. The price is padding: keys rounded up to whole vectors (a last panel of keys one vector wide where
 * they end half way into a panel, its scores made by {@link #scoresOneVector}: 77 keys are 80 at 512 bits, not 96) and
 * value channels to NR, except value heads of exactly five vectors (SD 1.5's heads of 40 at 256 bits, of 80 at 512
 * bits), multiplied without it, and of more than two and at most three vectors (heads of 40 at 512 bits), padded to
 * three vectors instead of four; {@link #fits}
 * keeps this path to shapes where the padding wastes at most a quarter of the products.
 */
final class ShortKeyAttention {
    /**
     * The most keys taken here: a panel's rows of scores stay in L1 (MR x 1024 floats, 24 KiB). Measured on
     * one AVX2 core: self-attention over 256 and 1024 tokens ran at 76-85% of the FMA peak here against
     * 55-67% in {@link AttentionKernel}; over 4096 tokens, level or slower, so longer sequences stay there.
     */
    static final int MAX_KEYS = 1024;
    /** Fewest useful multiply-adds per padded one (keys padded to whole vectors, values to NR) for this path. */
    private static final double MIN_USEFUL_FRACTION = 0.75;
    /** Query panels (MR queries each) per task: the block's Q and output rows of all heads stay in L2. */
    private static final int PANELS_PER_TASK = 4;
    /**
     * Packed K^T and V floats per group of batch items (4 MiB). A larger item is a group of its own: at most
     * MAX_KEYS x (d + dv, padded) x heads floats, 10.5 MB for SDXL's 20 heads of 64 over 1024 tokens.
     */
    private static final long PACK_BUDGET_FLOATS = 1L << 20;

    /** The lane moves and blend masks of {@link #transpose8}'s three rounds. */
    private static final VectorShuffle<Float> UP1 = shift(1, true), DOWN1 = shift(1, false);
    private static final VectorShuffle<Float> UP2 = shift(2, true), DOWN2 = shift(2, false);
    private static final VectorShuffle<Float> UP4 = shift(4, true), DOWN4 = shift(4, false);
    private static final VectorMask<Float> ODD1 = oddGroups(1), ODD2 = oddGroups(2), ODD4 = oddGroups(4);

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);
    /** Counts kernel runs, so each thread's scratch finds its aligned starts once per run ({@link Scratch#ensure}). */
    private static final AtomicLong RUNS = new AtomicLong();

    private ShortKeyAttention() {
    }

    /**
     * One thread's buffers: a query block's Q rows and output rows, a panel's scores (then P). The scores and
     * the output rows, which the kernels walk by whole vectors, are used from their first vector-aligned
     * element ({@link VectorAlignment}; L - 1 spare elements each).
     */
    private static final class Scratch {
        float[] p = new float[0];
        float[] qBlock = new float[0];
        float[] oBlock = new float[0];
        /** The first vector-aligned element of p and oBlock. */
        int p0;
        int o0;
        /** The run whose placement of the arrays p0 and o0 reflect. */
        long alignedFor = -1;
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

        /** Grows the arrays as needed; once per run (a GC may have moved them since) finds their aligned starts. */
        void ensure(int nkPad, int qBlockFloats, int oBlockFloats, long run) {
            boolean grown = false;
            if (qBlock.length < qBlockFloats) {
                qBlock = new float[qBlockFloats];
            }
            if (oBlock.length < oBlockFloats + L - 1) {
                oBlock = new float[oBlockFloats + L - 1];
                grown = true;
            }
            if (p.length < MR * nkPad + L - 1) {
                p = new float[MR * nkPad + L - 1];
                grown = true;
            }
            if (grown || alignedFor != run) {
                alignedFor = run;
                p0 = VectorAlignment.firstAligned(p);
                o0 = VectorAlignment.firstAligned(oBlock);
            }
        }
    }

    /**
     * The problem's sizes as the tasks see them. {@code valueVectors}: value heads of exactly 5 vectors (SD 1.5's
     * heads of 40 at 256 bits) are multiplied two query rows by all five vectors at a time, with V packed a key a
     * row, instead of padding 40 channels to 48 (a sixth of P V wasted); heads of more than 2 and at most 3 vectors
     * (heads of 40 at 512 bits) six query rows by three vectors, padded to 3 vectors (48 channels) instead of
     * whole panels (64: three eighths of P V wasted); 0 for the others, multiplied as Gemm B panels. (Heads of 40 at
     * 512 bits as two vectors and a 256-bit one were tried: with two vector shapes in one JVM, C2 left the softmax's
     * maxima at tier 3 in two JVMs of three, boxing every vector, 0.7 GB of heap per UNet call at 256x256.)
     */
    private record Geometry(int nq, int nk, int nkPad, int heads, int d, int dv, int valueVectors, boolean causal) {
        static Geometry of(AttentionSizes z, boolean causal) {
            return new Geometry(z.nq(), z.nk(), roundUp(z.nk(), L), z.heads(), z.d(), z.dv(), ShortKeyAttention.valueVectors(z.dv()), causal);
        }

        /** Floats of one head's packed K^T: panels of d x NR keys, the last d x L where nkPad ends half way into one. */
        int kFloats() {
            return nkPad * d;
        }

        /** Value channels per head the P V kernels write: whole vectors ({@code valueVectors}), or whole NR panels. */
        int dvWritten() {
            return ShortKeyAttention.dvWritten(dv);
        }

        /** Floats of one head's packed V: nkPad keys by dvWritten channels. */
        int vFloats() {
            return nkPad * dvWritten();
        }

        int qRow() {
            return heads * d;
        }

        int oRow() {
            return heads * dv;
        }

        /**
         * Floats per output row in a block: the heads' channels, and room for the last head's padded channels
         * (each head's padding lands on the next head's channels, which that head then writes).
         */
        int oStride() {
            return oRow() + dvWritten() - dv;
        }
    }

    /**
     * Whether this path takes attention over {@code nk} keys with heads of {@code d} and {@code dv}: at most
     * {@link #MAX_KEYS} keys, and padding keys (to whole vectors) and value channels (to NR, or to whole vectors for
     * the heads {@link #valueVectors} takes) wastes at most a quarter of the two products (all of SD's and CLIP's
     * shapes pass; at 512 bits heads of 40 over 77 keys are 87.5% useful, and the 16 tokens of the 4x4 level at
     * 256x256 one vector of keys).
     */
    static boolean fits(int nk, int d, int dv) {
        if (nk > MAX_KEYS) {
            return false;
        }
        int nkPad = roundUp(nk, L);
        int dvWritten = dvWritten(dv);
        double useful = (double) nk * (d + dv);
        double done = (double) nkPad * d + (double) dvWritten * nkPad;
        return useful >= MIN_USEFUL_FRACTION * done;
    }

    /**
     * Vectors per value row where a head's values are multiplied by whole vectors rather than as Gemm B panels: 5
     * for exactly five vectors (two query rows at a time, no padding), 3 for more than two and at most three (six
     * query rows at a time, padded to three), else 0.
     */
    private static int valueVectors(int dv) {
        if (dv == 5 * L) {
            return 5;
        }
        return dv > 2 * L && dv <= 3 * L ? 3 : 0;
    }

    /** Value channels per head the P V kernels write for heads of {@code dv}. */
    private static int dvWritten(int dv) {
        int vectors = valueVectors(dv);
        return vectors > 0 ? vectors * L : roundUp(dv, NR);
    }

    static Kernel compile(Op.Attention op, CompileContext ctx) {
        AttentionSizes z = AttentionSizes.of(op);
        int batch = z.batch(), nq = z.nq(), heads = z.heads();
        Geometry g = Geometry.of(z, op.causal());
        float qScale = op.scale() * VectorMath.LOG2E;
        int q = op.q().id(), k = op.k().id(), v = op.v().id(), out = op.out().id();
        WorkerPool pool = ctx.pool;
        Workspace ws = ctx.workspace;
        long perItem = ((long) g.kFloats() + g.vFloats()) * heads;
        int group = (int) Math.max(1, Math.min(batch, PACK_BUDGET_FLOATS / perItem));
        int panels = Gemm.panelsA(nq);
        int blocks = (panels + PANELS_PER_TASK - 1) / PANELS_PER_TASK;
        int[] gather = AttentionKernel.strides(g.d());
        return buffers -> {
            MemorySegment qs = buffers[q], ks = buffers[k], vs = buffers[v], os = buffers[out];
            long run = RUNS.incrementAndGet();
            // the packed panels from their first vector-aligned element, as the scratch arrays
            float[] kp = ws.get(Workspace.Slot.PACK_B, (long) group * heads * g.kFloats() + L - 1);
            float[] vp = ws.get(Workspace.Slot.PACK_A, (long) group * heads * g.vFloats() + L - 1);
            int k0 = VectorAlignment.firstAligned(kp), v0 = VectorAlignment.firstAligned(vp);
            for (int first = 0; first < batch; first += group) {
                int b0 = first, count = Math.min(group, batch - first);
                pool.forEach(count * heads, slot -> pack(ks, vs, b0 + slot / heads, slot % heads, g, qScale, gather,
                        kp, k0 + slot * g.kFloats(), vp, v0 + slot * g.vFloats()));
                pool.forEach(count * blocks, task -> {
                    int slot = task / blocks;
                    int p0 = task % blocks * PANELS_PER_TASK;
                    queryBlock(qs, os, b0 + slot, p0 * MR, Math.min(panels, p0 + PANELS_PER_TASK) * MR, g, run,
                            kp, k0 + slot * heads * g.kFloats(), vp, v0 + slot * heads * g.vFloats());
                });
            }
        };
    }

    /**
     * Packs head h of batch item b: K^T times {@code qScale} (the softmax scale in log2 units, so the query rows
     * are multiplied as they lie) as Gemm B panels (key j, channel c at {@link #keyAt} plus c times the panel's width:
     * panels of NR keys, a last one of L where the padded keys end half way into a panel), and V as Gemm B panels of
     * NR value channels (panel p, key j, channel p * NR + c at {@code vBase + p * nkPad * NR + j * NR + c}), or for
     * heads multiplied by whole vectors a key a row (key j, channel c at {@code vBase + j * dvWritten + c}); zero past
     * nk and past dv. K^T is transposed a panel of keys at a time: their rows copied, then each channel's L keys
     * gathered ({@code gather}: L offsets d apart), a vector store instead of L scalar ones. Only the padding is
     * zeroed, not the whole head.
     */
    private static void pack(MemorySegment k, MemorySegment v, int b, int h, Geometry g, float qScale, int[] gather,
                             float[] kp, int kBase, float[] vp, int vBase) {
        if (L == 8 && g.d() % 8 == 0) {
            packKeysByTransposes(k, b, h, g, qScale, kp, kBase);
        } else {
            packKeysByGathers(k, b, h, g, qScale, gather, kp, kBase);
        }
        packValues(v, b, h, g, vp, vBase);
    }

    /** K^T as {@link #pack} lays it out: a panel of keys at a time, rows copied then each channel's L keys gathered. */
    private static void packKeysByGathers(MemorySegment k, int b, int h, Geometry g, float qScale, int[] gather,
                                          float[] kp, int kBase) {
        int d = g.d(), nk = g.nk(), nkPad = g.nkPad();
        float[] keys = SCRATCH.get().row(NR * d);
        for (int j0 = 0; j0 < nkPad; j0 += NR) {
            int width = panelWidth(j0, nkPad);
            for (int j = 0; j < width; j++) {
                if (j0 + j < nk) {
                    load(k, ((long) b * nk + j0 + j) * g.qRow() + (long) h * d, d, qScale, keys, j * d);
                } else {
                    Arrays.fill(keys, j * d, (j + 1) * d, 0f);
                }
            }
            int panel = kBase + j0 * d;
            for (int c = 0; c < d; c++) {
                for (int lane = 0; lane < width; lane += L) {
                    FloatVector.fromArray(F, keys, lane * d + c, gather, 0).intoArray(kp, panel + c * width + lane);
                }
            }
        }
    }

    /**
     * K^T as {@link #pack} lays it out, at 8 lanes: blocks of 8 keys by 8 channels loaded as 8 vectors and
     * transposed in registers (three rounds of a lane permute and a blend per pair of vectors), 0.4-0.5 cycles
     * a float where a gather or a scalar copy took about 2: with 64 queries or the causal 77 x 77 layer,
     * packing K^T took a sixth to a fifth of the operator's time. Keys of a last block cut short are copied one
     * by one, zero past nk.
     */
    private static void packKeysByTransposes(MemorySegment k, int b, int h, Geometry g, float qScale, float[] kp, int kBase) {
        int d = g.d(), nk = g.nk(), nkPad = g.nkPad();
        long rowBytes = 4L * g.qRow();
        int j0 = 0;
        for (; j0 + 8 <= nk; j0 += 8) {
            long from = 4 * (((long) b * nk + j0) * g.qRow() + (long) h * d);
            int at = keyAt(kBase, j0, d);
            int width = panelWidth(j0 / NR * NR, nkPad);
            for (int c0 = 0; c0 < d; c0 += 8, from += 32) {
                transpose8(k, from, rowBytes, qScale, kp, at + c0 * width, width);
            }
        }
        for (; j0 < nkPad; j0++) {
            int at = keyAt(kBase, j0, d);
            int width = panelWidth(j0 / NR * NR, nkPad);
            long from = ((long) b * nk + j0) * g.qRow() + (long) h * d;
            for (int c = 0; c < d; c++) {
                kp[at + c * width] = j0 < nk ? k.get(FLOAT, 4 * (from + c)) * qScale : 0f;
            }
        }
    }

    /**
     * The 8 x 8 block of floats at {@code from} (rows {@code rowBytes} apart) times {@code scale}, transposed:
     * column c to {@code dst} from {@code at + c * width} (the width of the panel it lands in). Round s pairs rows i
     * and i + s: lanes whose (lane / s) is odd take the partner's lane - s, the others give theirs to the partner's
     * lane + s.
     */
    private static void transpose8(MemorySegment src, long from, long rowBytes, float scale, float[] dst, int at, int width) {
        FloatVector s = FloatVector.broadcast(F, scale); // made once: a scalar operand is broadcast on each use
        FloatVector r0 = FloatVector.fromMemorySegment(F, src, from, ORDER).mul(s);
        FloatVector r1 = FloatVector.fromMemorySegment(F, src, from + rowBytes, ORDER).mul(s);
        FloatVector r2 = FloatVector.fromMemorySegment(F, src, from + 2 * rowBytes, ORDER).mul(s);
        FloatVector r3 = FloatVector.fromMemorySegment(F, src, from + 3 * rowBytes, ORDER).mul(s);
        FloatVector r4 = FloatVector.fromMemorySegment(F, src, from + 4 * rowBytes, ORDER).mul(s);
        FloatVector r5 = FloatVector.fromMemorySegment(F, src, from + 5 * rowBytes, ORDER).mul(s);
        FloatVector r6 = FloatVector.fromMemorySegment(F, src, from + 6 * rowBytes, ORDER).mul(s);
        FloatVector r7 = FloatVector.fromMemorySegment(F, src, from + 7 * rowBytes, ORDER).mul(s);
        FloatVector t0 = r0.blend(r1.rearrange(UP1), ODD1), t1 = r0.rearrange(DOWN1).blend(r1, ODD1);
        FloatVector t2 = r2.blend(r3.rearrange(UP1), ODD1), t3 = r2.rearrange(DOWN1).blend(r3, ODD1);
        FloatVector t4 = r4.blend(r5.rearrange(UP1), ODD1), t5 = r4.rearrange(DOWN1).blend(r5, ODD1);
        FloatVector t6 = r6.blend(r7.rearrange(UP1), ODD1), t7 = r6.rearrange(DOWN1).blend(r7, ODD1);
        r0 = t0.blend(t2.rearrange(UP2), ODD2);
        r2 = t0.rearrange(DOWN2).blend(t2, ODD2);
        r1 = t1.blend(t3.rearrange(UP2), ODD2);
        r3 = t1.rearrange(DOWN2).blend(t3, ODD2);
        r4 = t4.blend(t6.rearrange(UP2), ODD2);
        r6 = t4.rearrange(DOWN2).blend(t6, ODD2);
        r5 = t5.blend(t7.rearrange(UP2), ODD2);
        r7 = t5.rearrange(DOWN2).blend(t7, ODD2);
        r0.blend(r4.rearrange(UP4), ODD4).intoArray(dst, at);
        r1.blend(r5.rearrange(UP4), ODD4).intoArray(dst, at + width);
        r2.blend(r6.rearrange(UP4), ODD4).intoArray(dst, at + 2 * width);
        r3.blend(r7.rearrange(UP4), ODD4).intoArray(dst, at + 3 * width);
        r0.rearrange(DOWN4).blend(r4, ODD4).intoArray(dst, at + 4 * width);
        r1.rearrange(DOWN4).blend(r5, ODD4).intoArray(dst, at + 5 * width);
        r2.rearrange(DOWN4).blend(r6, ODD4).intoArray(dst, at + 6 * width);
        r3.rearrange(DOWN4).blend(r7, ODD4).intoArray(dst, at + 7 * width);
    }

    /** For round s of {@link #transpose8}: lane l takes lane l - s ({@code up}) or l + s, clamped to the vector. */
    private static VectorShuffle<Float> shift(int s, boolean up) {
        int[] lanes = new int[L];
        for (int l = 0; l < L; l++) {
            lanes[l] = Math.clamp(up ? (l / s % 2 == 1 ? l - s : l) : (l / s % 2 == 0 ? l + s : l), 0, L - 1);
        }
        return VectorShuffle.fromArray(F, lanes, 0);
    }

    /** For round s of {@link #transpose8}: the lanes whose (lane / s) is odd. */
    private static VectorMask<Float> oddGroups(int s) {
        boolean[] lanes = new boolean[L];
        for (int l = 0; l < L; l++) {
            lanes[l] = l / s % 2 == 1;
        }
        return VectorMask.fromArray(F, lanes, 0);
    }

    /** Keys in the panel of K^T that starts at key j0 (a multiple of NR): NR, or L for a last panel cut half way. */
    private static int panelWidth(int j0, int nkPad) {
        return Math.min(NR, nkPad - j0);
    }

    /**
     * Where channel 0 of key j lies in a head's K^T packed from {@code kBase} (panel by panel, keys across each);
     * channel c is c times the panel's width further.
     */
    private static int keyAt(int kBase, int j, int d) {
        int j0 = j / NR * NR;
        return kBase + j0 * d + j - j0;
    }

    /** V as {@link #pack} lays it out. */
    private static void packValues(MemorySegment v, int b, int h, Geometry g, float[] vp, int vBase) {
        int dv = g.dv(), nk = g.nk(), nkPad = g.nkPad();
        if (g.valueVectors() > 0) {
            int row = g.dvWritten();
            for (int j = 0; j < nk; j++) {
                load(v, ((long) b * nk + j) * g.oRow() + (long) h * dv, dv, 1f, vp, vBase + j * row);
                Arrays.fill(vp, vBase + j * row + dv, vBase + (j + 1) * row, 0f);
            }
            Arrays.fill(vp, vBase + nk * row, vBase + nkPad * row, 0f);
            return;
        }
        for (int p0 = 0; p0 < g.dvWritten(); p0 += NR) { // panel p0 / NR: keys past nk zero
            Arrays.fill(vp, vBase + p0 * nkPad + nk * NR, vBase + (p0 + NR) * nkPad, 0f);
        }
        for (int j = 0; j < nk; j++) {
            long vRow = 4 * (((long) b * nk + j) * g.oRow() + (long) h * dv);
            int c = 0;
            for (; c <= dv - L; c += L) { // channel c of key j: panel c / NR, lane c % NR
                FloatVector.fromMemorySegment(F, v, vRow + 4L * c, ORDER).intoArray(vp, vBase + c / NR * nkPad * NR + j * NR + c % NR);
            }
            for (; c < dv; c++) {
                vp[vBase + c / NR * nkPad * NR + j * NR + c % NR] = v.get(FLOAT, vRow + 4L * c);
            }
            for (; c < g.dvWritten(); c++) {
                vp[vBase + c / NR * nkPad * NR + j * NR + c % NR] = 0f;
            }
        }
    }

    /**
     * {@code n} floats of {@code src} from element {@code from}, times {@code scale}, to {@code dst} from
     * {@code at}, by vectors (a row copy call costs more at these sizes).
     */
    private static void load(MemorySegment src, long from, int n, float scale, float[] dst, int at) {
        FloatVector s = FloatVector.broadcast(F, scale);
        int c = 0;
        for (; c <= n - L; c += L) {
            FloatVector.fromMemorySegment(F, src, 4 * (from + c), ORDER).mul(s).intoArray(dst, at + c);
        }
        for (; c < n; c++) {
            dst[at + c] = src.get(FLOAT, 4 * (from + c)) * scale;
        }
    }

    /**
     * Queries [i0, i1) of batch item b, all heads: their Q rows are one contiguous run of the input and their
     * output rows one of the output, so each is moved by one bulk copy (streamed, instead of a cache miss per
     * head's slice of a row), and the heads read and write them in L1/L2.
     */
    private static void queryBlock(MemorySegment qs, MemorySegment os, int b, int i0, int i1, Geometry g, long run,
                                   float[] kp, int kBase, float[] vp, int vBase) {
        int rows = Math.min(i1, g.nq()) - i0;
        int qRow = g.qRow(), oRow = g.oRow(), oStride = g.oStride();
        Scratch s = SCRATCH.get();
        s.ensure(g.nkPad(), (i1 - i0) * qRow, (i1 - i0) * oStride, run);
        MemorySegment.copy(qs, FLOAT, 4 * ((long) b * g.nq() + i0) * qRow, s.qBlock, 0, rows * qRow);
        // a last panel cut short multiplies zero rows (finite scores), whose outputs are not copied out
        Arrays.fill(s.qBlock, rows * qRow, roundUp(rows, MR) * qRow, 0f);
        for (int h = 0; h < g.heads(); h++) {
            for (int q0 = 0; q0 < rows; q0 += MR) {
                queryPanel(s, i0 + q0, q0, Math.min(MR, rows - q0), h, g,
                        kp, kBase + h * g.kFloats(), vp, vBase + h * g.vFloats());
            }
        }
        long out = 4 * ((long) b * g.nq() + i0) * oRow;
        if (oStride == oRow) {
            MemorySegment.copy(s.oBlock, s.o0, os, FLOAT, out, rows * oRow);
        } else {
            for (int r = 0; r < rows; r++) {
                MemorySegment.copy(s.oBlock, s.o0 + r * oStride, os, FLOAT, out + 4L * r * oRow, oRow);
            }
        }
    }

    /**
     * Queries [first, first + rows) (rows <= MR) of head h, row {@code local} of the block on: scores,
     * softmax, P V, each output row written once into the block, already divided by its sum.
     */
    private static void queryPanel(Scratch s, int first, int local, int rows, int h, Geometry g,
                                   float[] kp, int kBase, float[] vp, int vBase) {
        int d = g.d(), nkPad = g.nkPad(), qRow = g.qRow(), oStride = g.oStride();
        float[] p = s.p;
        int p0 = s.p0;
        // The keys the panel's last query can see, whole vectors: the width of S and the depth of P V.
        int seenByPanel = g.causal() ? Math.min(g.nk(), first + rows) : g.nk();
        int width = roundUp(seenByPanel, L);
        int qAt = local * qRow + h * d;
        for (int c = 0; c < width; c += NR) {
            if (width - c >= NR) {
                Gemm.kernel(s.qBlock, qAt, qRow, kp, kBase + c * d, d, p, p0 + c, width);
            } else {
                scoresOneVector(s.qBlock, qAt, qRow, kp, kBase + c * d, panelWidth(c, nkPad), d, p, p0 + c, width);
            }
        }
        for (int r = 0; r < MR; r++) {
            maskAfter(p, p0 + r * width, g.causal() ? Math.min(seenByPanel, first + r + 1) : g.nk(), width);
        }
        softmaxRows(p, p0, width, s.shift, s.sum, s.inverseSum);
        int oAt = s.o0 + local * oStride + h * g.dv();
        float[] scale = s.inverseSum;
        if (g.valueVectors() == 5) {
            for (int r = 0; r < MR; r += 2) {
                fiveVectorValues(p, p0 + r * width, width, vp, vBase, scale[r], scale[r + 1], s.oBlock, oAt + r * oStride, oStride);
            }
            return;
        }
        if (g.valueVectors() == 3) {
            threeVectorValues(p, p0, width, vp, vBase, s.oBlock, oAt, oStride);
        } else {
            for (int c = 0; c < g.dvWritten(); c += NR) {
                Gemm.kernel(p, p0, vp, vBase + c * nkPad, width, s.oBlock, oAt + c, oStride);
            }
        }
        // Divided after the products, in place: scaling the accumulators on their way out, C2 hoisted the six
        // factors' loads and broadcasts above the key loop, where beside Gemm's twelve accumulators they spilled
        // (1.3-2.7x the operator's time); threeVectorValues' eighteen leave even less room
        for (int r = 0; r < MR; r++) {
            scaleRow(s.oBlock, oAt + r * oStride, g.dvWritten(), scale[r]);
        }
    }

    /**
     * The scores of the MR query rows at {@code qi} (rows {@code qStride} apart) against the first vector of keys of a
     * panel of K^T (channel c's keys at {@code ki + c * kStride}: a panel one vector wide, or a causal panel's keys
     * past the last query's cut), written to {@code out} from {@code o} with row stride {@code stride}:
     * {@link Gemm#kernel}'s tile one vector wide, for keys that end half way into a panel.
     */
    private static void scoresOneVector(float[] q, int qi, int qStride, float[] k, int ki, int kStride, int d, float[] out, int o,
                                        int stride) {
        FloatVector c0 = FloatVector.zero(F), c1 = FloatVector.zero(F), c2 = FloatVector.zero(F);
        FloatVector c3 = FloatVector.zero(F), c4 = FloatVector.zero(F), c5 = FloatVector.zero(F);
        int q1 = qi + qStride, q2 = qi + 2 * qStride, q3 = qi + 3 * qStride, q4 = qi + 4 * qStride, q5 = qi + 5 * qStride;
        for (int c = 0; c < d; c++, ki += kStride) {
            FloatVector b = FloatVector.fromArray(F, k, ki);
            c0 = FloatVector.broadcast(F, q[qi + c]).fma(b, c0);
            c1 = FloatVector.broadcast(F, q[q1 + c]).fma(b, c1);
            c2 = FloatVector.broadcast(F, q[q2 + c]).fma(b, c2);
            c3 = FloatVector.broadcast(F, q[q3 + c]).fma(b, c3);
            c4 = FloatVector.broadcast(F, q[q4 + c]).fma(b, c4);
            c5 = FloatVector.broadcast(F, q[q5 + c]).fma(b, c5);
        }
        c0.intoArray(out, o);
        c1.intoArray(out, o + stride);
        c2.intoArray(out, o + 2 * stride);
        c3.intoArray(out, o + 3 * stride);
        c4.intoArray(out, o + 4 * stride);
        c5.intoArray(out, o + 5 * stride);
    }

    /**
     * O = P V for two rows of P (from {@code pi}, the second {@code width} further) and a head of five value
     * vectors (key j at {@code vi + j * 5 * L}): ten accumulators, seven loads per ten FMAs. Rows scaled by
     * {@code scale0} and {@code scale1}, written to {@code out} from {@code o} with row stride {@code stride}.
     */
    private static void fiveVectorValues(float[] p, int pi, int width, float[] v, int vi, float scale0, float scale1,
                                         float[] out, int o, int stride) {
        FloatVector c00 = FloatVector.zero(F), c01 = FloatVector.zero(F), c02 = FloatVector.zero(F);
        FloatVector c03 = FloatVector.zero(F), c04 = FloatVector.zero(F);
        FloatVector c10 = FloatVector.zero(F), c11 = FloatVector.zero(F), c12 = FloatVector.zero(F);
        FloatVector c13 = FloatVector.zero(F), c14 = FloatVector.zero(F);
        int p1 = pi + width;
        for (int j = 0; j < width; j++, vi += 5 * L) {
            FloatVector x0 = FloatVector.broadcast(F, p[pi + j]);
            FloatVector x1 = FloatVector.broadcast(F, p[p1 + j]);
            FloatVector b = FloatVector.fromArray(F, v, vi);
            c00 = x0.fma(b, c00);
            c10 = x1.fma(b, c10);
            b = FloatVector.fromArray(F, v, vi + L);
            c01 = x0.fma(b, c01);
            c11 = x1.fma(b, c11);
            b = FloatVector.fromArray(F, v, vi + 2 * L);
            c02 = x0.fma(b, c02);
            c12 = x1.fma(b, c12);
            b = FloatVector.fromArray(F, v, vi + 3 * L);
            c03 = x0.fma(b, c03);
            c13 = x1.fma(b, c13);
            b = FloatVector.fromArray(F, v, vi + 4 * L);
            c04 = x0.fma(b, c04);
            c14 = x1.fma(b, c14);
        }
        // two scales as arguments, not array loads: their broadcasts, if hoisted above the loop, still fit
        // beside the ten accumulators (six beside twelve would not: see queryPanel)
        FloatVector s0 = FloatVector.broadcast(F, scale0), s1 = FloatVector.broadcast(F, scale1);
        c00.mul(s0).intoArray(out, o);
        c01.mul(s0).intoArray(out, o + L);
        c02.mul(s0).intoArray(out, o + 2 * L);
        c03.mul(s0).intoArray(out, o + 3 * L);
        c04.mul(s0).intoArray(out, o + 4 * L);
        c10.mul(s1).intoArray(out, o + stride);
        c11.mul(s1).intoArray(out, o + stride + L);
        c12.mul(s1).intoArray(out, o + stride + 2 * L);
        c13.mul(s1).intoArray(out, o + stride + 3 * L);
        c14.mul(s1).intoArray(out, o + stride + 4 * L);
    }

    /**
     * O = P V, unscaled, for the panel's MR = 6 rows of P (from {@code pi}, each {@code width} after the last) and a head
     * padded to three value vectors (key j at {@code vi + j * 3 * L}), written to {@code out} from {@code o} with row
     * stride {@code stride}. Eighteen accumulators, nine loads per eighteen FMAs: the FMAs of three rows at a time
     * (nine chains, six loads per nine FMAs) left the two FMA pipes short of independent work and took 1.07-1.15x the
     * CPU time of the whole attention (heads of 40 at 512 bits, one thread of a Zen 5, docs/PERFORMANCE.md). The tile
     * and its three value vectors take 22 of AVX-512's 32 registers; at 256 bits (16 registers) it would spill, but
     * heads of three vectors there are 17-24 channels, which no Stable Diffusion model has. The rows are written out one
     * by one: accumulators held in an array, or passed to a helper, would not stay in registers (C2 boxes such vectors).
     */
    private static void threeVectorValues(float[] p, int pi, int width, float[] v, int vi, float[] out, int o, int stride) {
        FloatVector c00 = FloatVector.zero(F), c01 = FloatVector.zero(F), c02 = FloatVector.zero(F);
        FloatVector c10 = FloatVector.zero(F), c11 = FloatVector.zero(F), c12 = FloatVector.zero(F);
        FloatVector c20 = FloatVector.zero(F), c21 = FloatVector.zero(F), c22 = FloatVector.zero(F);
        FloatVector c30 = FloatVector.zero(F), c31 = FloatVector.zero(F), c32 = FloatVector.zero(F);
        FloatVector c40 = FloatVector.zero(F), c41 = FloatVector.zero(F), c42 = FloatVector.zero(F);
        FloatVector c50 = FloatVector.zero(F), c51 = FloatVector.zero(F), c52 = FloatVector.zero(F);
        int p1 = pi + width, p2 = pi + 2 * width, p3 = pi + 3 * width, p4 = pi + 4 * width, p5 = pi + 5 * width;
        for (int j = 0; j < width; j++, vi += 3 * L) {
            FloatVector b0 = FloatVector.fromArray(F, v, vi);
            FloatVector b1 = FloatVector.fromArray(F, v, vi + L);
            FloatVector b2 = FloatVector.fromArray(F, v, vi + 2 * L);
            FloatVector x = FloatVector.broadcast(F, p[pi + j]);
            c00 = x.fma(b0, c00);
            c01 = x.fma(b1, c01);
            c02 = x.fma(b2, c02);
            x = FloatVector.broadcast(F, p[p1 + j]);
            c10 = x.fma(b0, c10);
            c11 = x.fma(b1, c11);
            c12 = x.fma(b2, c12);
            x = FloatVector.broadcast(F, p[p2 + j]);
            c20 = x.fma(b0, c20);
            c21 = x.fma(b1, c21);
            c22 = x.fma(b2, c22);
            x = FloatVector.broadcast(F, p[p3 + j]);
            c30 = x.fma(b0, c30);
            c31 = x.fma(b1, c31);
            c32 = x.fma(b2, c32);
            x = FloatVector.broadcast(F, p[p4 + j]);
            c40 = x.fma(b0, c40);
            c41 = x.fma(b1, c41);
            c42 = x.fma(b2, c42);
            x = FloatVector.broadcast(F, p[p5 + j]);
            c50 = x.fma(b0, c50);
            c51 = x.fma(b1, c51);
            c52 = x.fma(b2, c52);
        }
        c00.intoArray(out, o);
        c01.intoArray(out, o + L);
        c02.intoArray(out, o + 2 * L);
        c10.intoArray(out, o + stride);
        c11.intoArray(out, o + stride + L);
        c12.intoArray(out, o + stride + 2 * L);
        c20.intoArray(out, o + 2 * stride);
        c21.intoArray(out, o + 2 * stride + L);
        c22.intoArray(out, o + 2 * stride + 2 * L);
        c30.intoArray(out, o + 3 * stride);
        c31.intoArray(out, o + 3 * stride + L);
        c32.intoArray(out, o + 3 * stride + 2 * L);
        c40.intoArray(out, o + 4 * stride);
        c41.intoArray(out, o + 4 * stride + L);
        c42.intoArray(out, o + 4 * stride + 2 * L);
        c50.intoArray(out, o + 5 * stride);
        c51.intoArray(out, o + 5 * stride + L);
        c52.intoArray(out, o + 5 * stride + 2 * L);
    }

    /** out[at + i] *= scale for i in [0, n), n a multiple of L. */
    private static void scaleRow(float[] out, int at, int n, float scale) {
        FloatVector s = FloatVector.broadcast(F, scale);
        for (int i = at; i < at + n; i += L) {
            FloatVector.fromArray(F, out, i).mul(s).intoArray(out, i);
        }
    }

    /**
     * Replaces each of the MR rows of scores (row r at {@code at + r * width}, width a multiple of L, masked keys
     * -infinity) by 2^(s - the row's max), and {@code inverseSum[r]} by 1 / the row's sum. The rows go
     * through each pass (maxima, exponentials, sums) together: short rows' dependency chains overlap, and
     * the exponentials' loop is set up once.
     */
    private static void softmaxRows(float[] p, int at, int width, float[] shift, float[] sum, float[] inverseSum) {
        rowMaxima(p, at, width, shift);
        VectorMath.exp2NonPositive(p, at, MR, width, width / L, L, shift, 0, sum, 0);
        for (int r = 0; r < MR; r++) { // in lane order, scalar: the same bits in every tier, and the rows' chains overlap
            float total = sum[r * L];
            for (int i = 1; i < L; i++) {
                total += sum[r * L + i];
            }
            inverseSum[r] = 1f / total;
        }
    }

    /**
     * shift[r * L ...] = the max of row r (at {@code at + r * width}), broadcast: the six rows in one loop, six
     * independent chains (one row at a time waits on each compare's latency). Compare and blend, not Java's
     * max (which orders NaN and signed zeros, five instructions on AVX2); a NaN score still makes its row NaN
     * through the exponentials.
     */
    private static void rowMaxima(float[] p, int at, int width, float[] shift) {
        int w0 = at, w1 = at + width, w2 = at + 2 * width, w3 = at + 3 * width, w4 = at + 4 * width, w5 = at + 5 * width;
        FloatVector m0 = FloatVector.fromArray(F, p, w0), m1 = FloatVector.fromArray(F, p, w1);
        FloatVector m2 = FloatVector.fromArray(F, p, w2), m3 = FloatVector.fromArray(F, p, w3);
        FloatVector m4 = FloatVector.fromArray(F, p, w4), m5 = FloatVector.fromArray(F, p, w5);
        for (int j = L; j < width; j += L) {
            FloatVector x0 = FloatVector.fromArray(F, p, w0 + j);
            m0 = m0.blend(x0, m0.compare(VectorOperators.LT, x0));
            FloatVector x1 = FloatVector.fromArray(F, p, w1 + j);
            m1 = m1.blend(x1, m1.compare(VectorOperators.LT, x1));
            FloatVector x2 = FloatVector.fromArray(F, p, w2 + j);
            m2 = m2.blend(x2, m2.compare(VectorOperators.LT, x2));
            FloatVector x3 = FloatVector.fromArray(F, p, w3 + j);
            m3 = m3.blend(x3, m3.compare(VectorOperators.LT, x3));
            FloatVector x4 = FloatVector.fromArray(F, p, w4 + j);
            m4 = m4.blend(x4, m4.compare(VectorOperators.LT, x4));
            FloatVector x5 = FloatVector.fromArray(F, p, w5 + j);
            m5 = m5.blend(x5, m5.compare(VectorOperators.LT, x5));
        }
        FloatVector.broadcast(F, m0.reduceLanes(VectorOperators.MAX)).intoArray(shift, 0);
        FloatVector.broadcast(F, m1.reduceLanes(VectorOperators.MAX)).intoArray(shift, L);
        FloatVector.broadcast(F, m2.reduceLanes(VectorOperators.MAX)).intoArray(shift, 2 * L);
        FloatVector.broadcast(F, m3.reduceLanes(VectorOperators.MAX)).intoArray(shift, 3 * L);
        FloatVector.broadcast(F, m4.reduceLanes(VectorOperators.MAX)).intoArray(shift, 4 * L);
        FloatVector.broadcast(F, m5.reduceLanes(VectorOperators.MAX)).intoArray(shift, 5 * L);
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
}
