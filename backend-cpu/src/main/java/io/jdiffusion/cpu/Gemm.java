package io.jdiffusion.cpu;

import jdk.incubator.vector.FloatVector;

import static io.jdiffusion.cpu.CpuVectors.F;
import static io.jdiffusion.cpu.CpuVectors.L;

/**
 * C = A B in F32 with packed operands and a register-blocked FMA micro-kernel.
 *
 * <p>A (M x K) is packed in panels of {@link #MR} rows, each row contiguous: panel p holds A[p*MR + r][k]
 * at {@code p*K*MR + r*K + k}, so packing rows is a bulk copy and the kernel reads six sequential streams.
 * B (K x N) is packed in panels of {@link #NR} = two vectors of columns, k-major: B[k][p*NR + j] at
 * {@code p*K*NR + k*NR + j}. The micro-kernel keeps an MR x NR tile of C in 2*MR vector registers and does one k step with
 * two vector loads of B, MR broadcasts of A and 2*MR FMAs. Up to {@link #MAX_UNCHUNKED_DEPTH} the full depth
 * runs in the kernel, so C is written once, by the epilogue ({@link GemmOutput}), which fuses bias,
 * activation and residual.
 *
 * <p>Work is split into blocks of C: an A block (a few panels, sized to stay in L2) is reused across the
 * B panels of a task, and each B panel across the A panels of the block. Deeper products (im2col depths of
 * 11520 and more, where one 6-row A panel or one B panel alone outgrows L2 and B would be streamed from L3
 * once per 6 rows) split the depth into chunks of about {@link #DEPTH_CHUNK}: per chunk the A block's
 * slice stays in L2 and each B panel's slice (kc x NR) in L1; the tiles' partial sums gather in a per-thread
 * copy of the task's block of C, and the epilogue runs once, after the last chunk.
 */
final class Gemm {
    /** Rows of the register tile. 6 x 2 vectors = 12 accumulators + 2 B vectors + 1 broadcast fit 16 registers. */
    static final int MR = 6;
    /** Columns of the register tile: two vectors. */
    static final int NR = 2 * L;
    /** Target bytes of one A block (L2-resident while B panels stream past). */
    private static final int A_BLOCK_BYTES = 192 * 1024;
    /**
     * Depth of a chunk where the depth is split ({@link #chunkDepth}): a B slice of 256 x NR is 16 KiB at 256-bit
     * vectors, half of a 32 KiB L1, and the A block's slice of 32 panels 192 KiB of L2. Chunks of 256 were as
     * fast as or faster than 384 and 512 at every deep convolution measured (AVX2, docs/PERFORMANCE.md).
     */
    static final int DEPTH_CHUNK = 256;
    /**
     * Deepest product of a weight operand A (a convolution) computed in one pass over its depth. Up to here a
     * B panel (at most 256 KiB at 256-bit vectors) and an A panel still share L2, and one pass measured as fast;
     * SD's deep im2col layers (depths 5760-23040) are far above it, its 1x1 and Winograd products (at most
     * 2560) below.
     */
    static final int MAX_UNCHUNKED_DEPTH = 4096;
    /** Fewest A rows a staged weight B panel is reused across (see {@code Blocks.planForWeightsAsB}). */
    private static final int MIN_ROWS_PER_B_STAGE = 128;

    private static final ThreadLocal<float[]> TILE = ThreadLocal.withInitial(() -> new float[MR * NR]);
    private static final ThreadLocal<float[][]> A_BLOCK = ThreadLocal.withInitial(() -> new float[1][0]);
    /** The calling thread's whole packed A, for GEMMs with few rows (kept small by that condition). */
    private static final ThreadLocal<float[][]> A_WHOLE = ThreadLocal.withInitial(() -> new float[1][0]);
    /** The calling thread's weight panels widened to F32 (an A block, or one B panel). */
    private static final ThreadLocal<float[][]> A_STAGED = ThreadLocal.withInitial(() -> new float[1][0]);
    private static final ThreadLocal<float[][]> B_STAGED = ThreadLocal.withInitial(() -> new float[1][0]);
    /** The calling thread's partial sums of its block of C while the depth is split into chunks. */
    private static final ThreadLocal<float[][]> C_BLOCK = ThreadLocal.withInitial(() -> new float[1][0]);

    /** Packs A panels [first, end) to {@code dst} from offset 0 (an activation operand, packed by each task as needed). */
    @FunctionalInterface
    interface PanelSource {
        void pack(int first, int end, float[] dst);
    }

    private Gemm() {
    }

    static int panelsA(int m) {
        return (m + MR - 1) / MR;
    }

    static int panelsB(int n) {
        return (n + NR - 1) / NR;
    }

    /**
     * How C is split into tasks: A blocks of a few panels (sized to stay in L2) times B blocks, the B
     * blocks halved until there are a few tasks per thread.
     */
    private record Blocks(int aPanels, int aBlock, int mBlocks, int bPanels, int bBlock, int nBlocks) {
        /** With the weights as A, split into depth chunks. */
        static Blocks plan(int m, int k, int bPanels, int threads) {
            return plan(m, k, bPanels, threads, aBlockPanels(m, k));
        }

        /**
         * With the weights as B each task widens every B panel it covers once per A block, a copy of K x NR
         * values: blocks of at least {@link #MIN_ROWS_PER_B_STAGE} rows keep that copy a few percent of the
         * block's multiply-adds even where K is so deep that an L2-sized A block holds a single panel.
         */
        static Blocks planForWeightsAsB(int m, int k, int bPanels, int threads) {
            int minimum = Math.min(panelsA(m), (MIN_ROWS_PER_B_STAGE + MR - 1) / MR);
            return plan(m, k, bPanels, threads, Math.max(blockPanels(m, k), minimum));
        }

        private static Blocks plan(int m, int k, int bPanels, int threads, int aBlock) {
            int aPanels = panelsA(m);
            int mBlocks = (aPanels + aBlock - 1) / aBlock;
            int bBlock = bPanels;
            int wanted = 4 * threads;
            while (bBlock > 1 && (long) mBlocks * ((bPanels + bBlock - 1) / bBlock) < wanted) {
                bBlock = (bBlock + 1) / 2;
            }
            return new Blocks(aPanels, aBlock, mBlocks, bPanels, bBlock, (bPanels + bBlock - 1) / bBlock);
        }

        int tasks() {
            return mBlocks * nBlocks;
        }

        int aFirst(int task) {
            return (task % mBlocks) * aBlock;
        }

        int aEnd(int task) {
            return Math.min(aPanels, aFirst(task) + aBlock);
        }

        int bFirst(int task) {
            return (task / mBlocks) * bBlock;
        }

        int bEnd(int task) {
            return Math.min(bPanels, bFirst(task) + bBlock);
        }
    }

    /**
     * C = A B with the weights as A ({@code a} from value {@code aBase}, {@code panelsA(m)} panels of depth k:
     * a convolution) and {@code bPanels} packed B panels in {@code b} from {@code bOff}. Each task widens
     * its A block once per depth chunk and reuses it across its B panels.
     */
    static void multiply(PackedWeights a, long aBase, int m, float[] b, int bOff, int bPanels, int n, int k,
                         GemmOutput out, WorkerPool pool) {
        Blocks blocks = Blocks.plan(m, k, bPanels, pool.threads());
        pool.forEach(blocks.tasks(), task -> multiplyBlock(a, aBase, m, blocks.aFirst(task), blocks.aEnd(task),
                b, bOff, blocks.bFirst(task), blocks.bEnd(task), n, k, out));
    }

    /**
     * C = A B with the activations as A, packed block by block inside the tasks that use it from {@code source}
     * (the packed block is still in L2 when the micro-kernel reads it, and no whole packed copy of A is needed),
     * and the weights as B ({@code bPanels} panels in {@code b}: a linear layer).
     */
    static void multiply(PanelSource source, int m, PackedWeights b, int bPanels, int n, int k,
                         GemmOutput out, WorkerPool pool) {
        Blocks blocks = Blocks.planForWeightsAsB(m, k, bPanels, pool.threads());
        if (blocks.nBlocks() > 1) {
            // Several tasks share each A block (M is small): pack A once, up front, instead of once per task.
            float[] a = grow(A_WHOLE, blocks.aPanels() * k * MR);
            pool.forRange(blocks.aPanels(), 2, (from, to) -> {
                int n0 = (int) (to - from) * k * MR;
                float[] block = grow(A_BLOCK, n0);
                source.pack((int) from, (int) to, block);
                System.arraycopy(block, 0, a, (int) from * k * MR, n0);
            });
            pool.forEach(blocks.tasks(), task -> multiplyBlock(null, a, m, blocks.aFirst(task), blocks.aEnd(task),
                    b, blocks.bFirst(task), blocks.bEnd(task), n, k, out));
            return;
        }
        pool.forEach(blocks.tasks(), task -> multiplyBlock(source, null, m, blocks.aFirst(task), blocks.aEnd(task),
                b, blocks.bFirst(task), blocks.bEnd(task), n, k, out));
    }

    /** The calling thread's array in {@code holder}, grown to at least {@code size} floats. */
    private static float[] grow(ThreadLocal<float[][]> holder, int size) {
        float[][] h = holder.get();
        if (h[0].length < size) {
            h[0] = new float[size];
        }
        return h[0];
    }

    /**
     * The depth of each chunk the depth k is split into: k itself up to {@link #MAX_UNCHUNKED_DEPTH}, else
     * about {@link #DEPTH_CHUNK}, the chunks as equal as whole values allow (the last may be shorter).
     */
    static int chunkDepth(int k) {
        if (k <= MAX_UNCHUNKED_DEPTH) {
            return k;
        }
        int chunks = (k + DEPTH_CHUNK - 1) / DEPTH_CHUNK;
        return (k + chunks - 1) / chunks;
    }

    /**
     * Writes row {@code row} of an m x k weight operand A (src[from, from + k)) into its packed panels in
     * {@code dst} from value {@code base}. The panels are laid out chunk by chunk ({@link #chunkDepth}): chunk
     * [k0, k0 + d) of every panel comes before the next chunk, row i's part of it at
     * {@code panelsA(m) * MR * k0 + i * d}, so one chunk of an A block is one contiguous run to stage. With the
     * whole depth in one chunk that is the plain panel layout (row r of panel p at {@code p*k*MR + r*k}).
     */
    static void writeRowOfA(PackedWeights dst, long base, int m, int k, int row, float[] src, int from) {
        int kc = chunkDepth(k);
        for (int k0 = 0; k0 < k; k0 += kc) {
            int depth = Math.min(kc, k - k0);
            dst.write(base + (long) panelsA(m) * MR * k0 + (long) row * depth, src, from + k0, depth);
        }
    }

    /**
     * The part of C = A B covered by A panels [pa0, pa1) and B panels [pb0, pb1), in the calling thread, with
     * the A block widened from packed weights (a convolution; laid out by {@link #writeRowOfA}): for each depth
     * chunk the block's slice of A is staged (L2-sized, one contiguous run) and each B panel's slice of the
     * chunk (kc x NR, L1-sized) is reused across it.
     */
    static void multiplyBlock(PackedWeights a, long aBase, int m, int pa0, int pa1, float[] b, int bOff, int pb0, int pb1,
                              int n, int k, GemmOutput out) {
        int kc = chunkDepth(k);
        int panels = pa1 - pa0;
        float[] staged = grow(A_STAGED, panels * kc * MR);
        float[] sums = kc == k ? null : grow(C_BLOCK, panels * (pb1 - pb0) * MR * NR);
        for (int k0 = 0; k0 < k; k0 += kc) {
            int depth = Math.min(kc, k - k0);
            a.stage(aBase + (long) panelsA(m) * MR * k0 + (long) pa0 * MR * depth, panels * MR * depth, staged, 0);
            for (int pb = pb0; pb < pb1; pb++) {
                column(staged, -pa0 * MR * depth, depth, m, pa0, pa1, b, bOff + pb * k * NR + k0 * NR, pb, n, depth,
                        sums, (pb - pb0) * panels, k0 == 0, k0 + depth == k, out);
            }
        }
    }

    /**
     * The same with the weights as B (a linear layer), over the whole depth in one pass, and A either packed
     * whole ({@code whole}) or packed here for the block from {@code source}: each B panel is widened once and
     * reused across the block's A panels. (Splitting the depth measured no gain here, 1.0-1.1x the time at
     * K = 1280-5120: the streamed operand is A's 6 rows, 24 bytes per k step against B's 64, and the staged B
     * panel already serves at least {@link #MIN_ROWS_PER_B_STAGE} rows from L2.)
     */
    private static void multiplyBlock(PanelSource source, float[] whole, int m, int pa0, int pa1, PackedWeights b,
                                      int pb0, int pb1, int n, int k, GemmOutput out) {
        float[] a = whole;
        int aOff = 0;
        if (whole == null) {
            a = grow(A_BLOCK, (pa1 - pa0) * k * MR);
            source.pack(pa0, pa1, a);
            aOff = -pa0 * k * MR;
        }
        float[] staged = grow(B_STAGED, k * NR);
        for (int pb = pb0; pb < pb1; pb++) {
            b.stage((long) pb * k * NR, k * NR, staged, 0);
            column(a, aOff, k, m, pa0, pa1, staged, 0, pb, n, k, null, 0, true, true, out);
        }
    }

    /**
     * A panels per block of a weight operand A of depth k, so that the block's slice of one depth chunk stays
     * in L2 while B panels stream past.
     */
    static int aBlockPanels(int m, int k) {
        return blockPanels(m, chunkDepth(k));
    }

    /** A panels of the given depth that fill an L2-sized A block. */
    private static int blockPanels(int m, int depth) {
        return Math.max(1, Math.min(panelsA(m), A_BLOCK_BYTES / Math.max(1, MR * depth * 4)));
    }

    /**
     * The tiles of one B panel (pb, at b[bi], row stride NR) times A panels [pa0, pa1) (panel pa's row r at
     * a[aOff + (pa * MR + r) * aStride]) over one depth chunk. With the whole depth in the chunk
     * ({@code sums} null) each tile goes straight to the epilogue; otherwise the chunks' partial sums gather
     * in {@code sums} (this column's tiles from tile {@code firstTile}: the first chunk stores, later chunks
     * add) and the epilogue runs after the last, so bias, activation and residual still see the whole sum.
     */
    private static void column(float[] a, int aOff, int aStride, int m, int pa0, int pa1, float[] b, int bi, int pb,
                               int n, int depth, float[] sums, int firstTile, boolean first, boolean last, GemmOutput out) {
        float[] tile = TILE.get();
        int colsPerPanel = out.columnsPerPanel();
        int col0 = pb * colsPerPanel;
        int cols = Math.min(colsPerPanel, n - col0);
        for (int pa = pa0; pa < pa1; pa++) {
            int row0 = pa * MR;
            int ai = aOff + row0 * aStride;
            if (sums == null) {
                kernel(a, ai, aStride, b, bi, depth, tile, 0, NR, false);
            } else {
                int t = (firstTile + pa - pa0) * MR * NR;
                kernel(a, ai, aStride, b, bi, depth, sums, t, NR, !first);
                if (!last) {
                    continue;
                }
                System.arraycopy(sums, t, tile, 0, MR * NR);
            }
            out.store(tile, row0, Math.min(MR, m - row0), col0, cols);
        }
    }

    /**
     * The MR x NR register tile over depth k: A's rows {@code aStride} apart from a[ai], B's k-major rows of NR
     * from b[bi]; written to {@code out} from {@code o} with row stride {@code stride}, or with {@code add}
     * added to what is there.
     */
    static void kernel(float[] a, int ai, int aStride, float[] b, int bi, int k, float[] out, int o, int stride,
                       boolean add) {
        FloatVector c00 = FloatVector.zero(F), c01 = FloatVector.zero(F);
        FloatVector c10 = FloatVector.zero(F), c11 = FloatVector.zero(F);
        FloatVector c20 = FloatVector.zero(F), c21 = FloatVector.zero(F);
        FloatVector c30 = FloatVector.zero(F), c31 = FloatVector.zero(F);
        FloatVector c40 = FloatVector.zero(F), c41 = FloatVector.zero(F);
        FloatVector c50 = FloatVector.zero(F), c51 = FloatVector.zero(F);
        if (add) {
            c00 = FloatVector.fromArray(F, out, o);
            c01 = FloatVector.fromArray(F, out, o + L);
            c10 = FloatVector.fromArray(F, out, o + stride);
            c11 = FloatVector.fromArray(F, out, o + stride + L);
            c20 = FloatVector.fromArray(F, out, o + 2 * stride);
            c21 = FloatVector.fromArray(F, out, o + 2 * stride + L);
            c30 = FloatVector.fromArray(F, out, o + 3 * stride);
            c31 = FloatVector.fromArray(F, out, o + 3 * stride + L);
            c40 = FloatVector.fromArray(F, out, o + 4 * stride);
            c41 = FloatVector.fromArray(F, out, o + 4 * stride + L);
            c50 = FloatVector.fromArray(F, out, o + 5 * stride);
            c51 = FloatVector.fromArray(F, out, o + 5 * stride + L);
        }
        int a1 = ai + aStride, a2 = ai + 2 * aStride, a3 = ai + 3 * aStride, a4 = ai + 4 * aStride, a5 = ai + 5 * aStride;
        for (int p = 0; p < k; p++, bi += NR) {
            FloatVector b0 = FloatVector.fromArray(F, b, bi);
            FloatVector b1 = FloatVector.fromArray(F, b, bi + L);
            FloatVector x = FloatVector.broadcast(F, a[ai + p]);
            c00 = x.fma(b0, c00);
            c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(F, a[a1 + p]);
            c10 = x.fma(b0, c10);
            c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(F, a[a2 + p]);
            c20 = x.fma(b0, c20);
            c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(F, a[a3 + p]);
            c30 = x.fma(b0, c30);
            c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(F, a[a4 + p]);
            c40 = x.fma(b0, c40);
            c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(F, a[a5 + p]);
            c50 = x.fma(b0, c50);
            c51 = x.fma(b1, c51);
        }
        c00.intoArray(out, o);
        c01.intoArray(out, o + L);
        c10.intoArray(out, o + stride);
        c11.intoArray(out, o + stride + L);
        c20.intoArray(out, o + 2 * stride);
        c21.intoArray(out, o + 2 * stride + L);
        c30.intoArray(out, o + 3 * stride);
        c31.intoArray(out, o + 3 * stride + L);
        c40.intoArray(out, o + 4 * stride);
        c41.intoArray(out, o + 4 * stride + L);
        c50.intoArray(out, o + 5 * stride);
        c51.intoArray(out, o + 5 * stride + L);
    }
}
