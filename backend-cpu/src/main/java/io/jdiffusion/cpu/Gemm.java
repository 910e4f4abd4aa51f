package io.jdiffusion.cpu;

import io.jdiffusion.core.DType;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;

import static io.jdiffusion.cpu.CpuVectors.F;
import static io.jdiffusion.cpu.CpuVectors.L;
import static io.jdiffusion.cpu.CpuVectors.ORDER;

/**
 * C = A B in F32 with packed operands and a register-blocked FMA micro-kernel.
 *
 * <p>A (M x K) is packed in panels of {@link #MR} rows, each row contiguous: panel p holds A[p*MR + r][k]
 * at {@code p*K*MR + r*K + k}, so packing rows is a bulk copy and the kernel reads six sequential streams.
 * B (K x N) is packed in panels of {@link #NR} = two vectors of columns, k-major: B[k][p*NR + j] at
 * {@code p*K*NR + k*NR + j}. The micro-kernel keeps an MR x NR tile of C in 2*MR vector registers and does one k step with
 * two vector loads of B, MR broadcasts of A and 2*MR FMAs; the full depth K runs in the kernel, so C is
 * written once, by the epilogue ({@link GemmOutput}), which fuses bias, activation and residual.
 *
 * <p>Work is split into blocks of C: an A block (a few panels, sized to stay in L2) is reused across the
 * B panels of a task, and each sweep of a few B panels ({@link #sweepPanels}) across the A panels of the block.
 */
final class Gemm {
    /** Rows of the register tile. 6 x 2 vectors = 12 accumulators + 2 B vectors + 1 broadcast fit 16 registers. */
    static final int MR = 6;
    /** Columns of the register tile: two vectors. */
    static final int NR = 2 * L;
    /** Target bytes of one A block (L2-resident while B panels stream past). */
    private static final int A_BLOCK_BYTES = 192 * 1024;
    /** Target bytes of a B block packed inside a task (L2-resident beside an A block while the A blocks pass). */
    static final int B_BLOCK_BYTES = 384 * 1024;
    /**
     * Target bytes of the B panels one A panel meets in turn before the next A panel starts ({@link #sweepPanels}).
     * Sweeping a few B panels per A panel writes each C row in runs of several tiles, which the hardware prefetcher
     * follows; one B panel down all the A panels wrote 128 bytes per row, a row stride apart, each a fresh miss.
     */
    private static final int SWEEP_BYTES = 512 * 1024;
    /** Fewest A rows a staged weight B panel is reused across (see {@code Blocks.planForWeightsAsB}). */
    private static final int MIN_ROWS_PER_B_STAGE = 128;

    private static final ThreadLocal<float[]> TILE = ThreadLocal.withInitial(() -> new float[MR * NR]);
    private static final ThreadScratch A_BLOCK = new ThreadScratch();
    /** The calling thread's whole packed A, for GEMMs with few rows (kept small by that condition). */
    private static final ThreadScratch A_WHOLE = new ThreadScratch();
    /** The calling thread's 2-byte weight panels widened to F32: an A block on the heap, a sweep of B panels off it. */
    private static final ThreadScratch A_STAGED = new ThreadScratch();
    private static final ThreadScratch B_STAGED = new ThreadScratch();
    /** The calling thread's piece of B panels on their way off the heap ({@link PackedWeights#BOUNCE_FLOATS}). */
    private static final ThreadScratch B_BOUNCE = new ThreadScratch();
    /** The calling thread's block of activation B panels, packed by the task that multiplies it. */
    private static final ThreadScratch B_BLOCK = new ThreadScratch();

    /** Packs operand panels [first, end) to {@code dst} from offset 0 (an activation operand, packed by each task as needed). */
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

    /** n rounded up to a multiple of {@code multiple}: rows or columns padded to whole panels or tiles. */
    static int roundUp(int n, int multiple) {
        return (n + multiple - 1) / multiple * multiple;
    }

    /**
     * How C is split into tasks: A blocks of a few panels (sized to stay in L2) times B blocks, the B
     * blocks halved until there are a few tasks per thread.
     */
    private record Blocks(int aPanels, int aBlock, int mBlocks, int bPanels, int bBlock, int nBlocks) {
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
            return plan(m, k, bPanels, threads, Math.max(aBlockPanels(m, k), minimum));
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
     * its A block once and reuses it across its B panels.
     */
    static void multiply(PackedWeights a, long aBase, int m, float[] b, int bOff, int bPanels, int n, int k,
                         GemmOutput out, WorkerPool pool) {
        Blocks blocks = Blocks.plan(m, k, bPanels, pool.threads());
        pool.forEach(blocks.tasks(), task -> multiplyBlock(a, aBase, m, blocks.aFirst(task), blocks.aEnd(task),
                b, bOff, blocks.bFirst(task), blocks.bEnd(task), n, k, out));
    }

    /**
     * C = A B with the weights as A ({@code panelsA(m)} panels of depth k: a convolution) and the activations as B,
     * {@code bPanels} panels packed block by block inside the tasks that use them from {@code source}: each task packs
     * an L2-sized block of B in its own thread and multiplies every A block by it, so the micro-kernel reads B from
     * L2, where packing all of B first (in a pass of its own, several MB) left it to be read back from memory.
     */
    static void multiply(PackedWeights a, int m, PanelSource source, int bPanels, int n, int k, GemmOutput out,
                         WorkerPool pool) {
        int bBlock = bBlockPanels(k, bPanels, pool.threads());
        int aBlock = aBlockPanels(m, k);
        int aPanels = panelsA(m);
        pool.forEach((bPanels + bBlock - 1) / bBlock, task -> {
            int first = task * bBlock, end = Math.min(bPanels, first + bBlock);
            float[] b = B_BLOCK.floats((end - first) * k * NR);
            source.pack(first, end, b);
            for (int pa = 0; pa < aPanels; pa += aBlock) {
                multiplyBlock(a, 0, m, pa, Math.min(aPanels, pa + aBlock), b, -first * k * NR, first, end, n, k, out);
            }
        });
    }

    /** The most B panels a block packed inside a task holds ({@link #B_BLOCK_BYTES}). */
    static int bBlockPanels(int k) {
        return Math.max(1, B_BLOCK_BYTES / (Float.BYTES * NR * k));
    }

    /**
     * B panels per block packed inside a task, at most {@link #bBlockPanels(int)}, and at most a quarter of a thread's
     * share where that leaves two panels or more (a shallow B, conv_in's depth of 36, fits a thread's share in one L2
     * block: 4 blocks over 2 threads took 1.25 ms at 512x512, 16 took 0.96 ms, the chunked path 1.04-1.06); the
     * blocks a multiple of the threads in number and as even as the panels allow, as a thread left with one block
     * more than the other waits alone (7 blocks over 2 threads ran 4 against 3).
     */
    static int bBlockPanels(int k, int bPanels, int threads) {
        int most = Math.min(bBlockPanels(k), Math.max(2, bPanels / (4 * threads)));
        int blocks = (bPanels + most - 1) / most;
        blocks = (blocks + threads - 1) / threads * threads;
        return Math.max(1, (bPanels + blocks - 1) / blocks);
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
            float[] a = A_WHOLE.floats(blocks.aPanels() * k * MR);
            pool.forRange(blocks.aPanels(), 2, (from, to) -> {
                int n0 = (int) (to - from) * k * MR;
                float[] block = A_BLOCK.floats(n0);
                source.pack((int) from, (int) to, block);
                System.arraycopy(block, 0, a, (int) from * k * MR, n0);
            });
            pool.forEach(blocks.tasks(), task -> multiplyBlock(a, 0, m, blocks.aFirst(task), blocks.aEnd(task),
                    b, blocks.bFirst(task), blocks.bEnd(task), n, k, out));
            return;
        }
        pool.forEach(blocks.tasks(), task -> {
            int first = blocks.aFirst(task), end = blocks.aEnd(task);
            float[] a = A_BLOCK.floats((end - first) * k * MR);
            source.pack(first, end, a);
            multiplyBlock(a, -first * k * MR, m, first, end, b, blocks.bFirst(task), blocks.bEnd(task), n, k, out);
        });
    }

    /**
     * {@link #multiplyBlock(float[], int, int, int, int, float[], int, int, int, int, int, GemmOutput)} with the weights
     * as A from value {@code aBase} of {@code a}: F32 panels read where they lie, off the heap; 2-byte panels widened
     * into a heap array, the whole A block once.
     */
    static void multiplyBlock(PackedWeights a, long aBase, int m, int pa0, int pa1, float[] b, int bOff, int pb0, int pb1,
                              int n, int k, GemmOutput out) {
        if (a.storage() == DType.F32) {
            multiplyBlock(a.segment(), (long) Float.BYTES * aBase, m, pa0, pa1, b, bOff, pb0, pb1, n, k, out);
            return;
        }
        int size = (pa1 - pa0) * k * MR;
        float[] staged = A_STAGED.floats(size);
        a.stage(aBase + (long) pa0 * k * MR, size, staged, 0);
        multiplyBlock(staged, -pa0 * k * MR, m, pa0, pa1, b, bOff, pb0, pb1, n, k, out);
    }

    /**
     * The same with the weights as B: F32 panels are read where they lie, off the heap; 2-byte panels are widened
     * a sweep of B panels ({@link #sweepPanels}) at a time into an off-heap block, each reused across the block's A
     * panels. Off the heap, so that the micro-kernel is the one F32 panels take: widened into a heap array and read by
     * the heap kernel, F16 linear layers ran 6-8% below F32 ones, against 3-4% this way (two threads, a Zen 4 class
     * core, docs/PERFORMANCE.md).
     */
    private static void multiplyBlock(float[] a, int aOff, int m, int pa0, int pa1, PackedWeights b, int pb0, int pb1,
                                      int n, int k, GemmOutput out) {
        if (b.storage() == DType.F32) {
            multiplyBlock(a, aOff, m, pa0, pa1, b.segment(), 0, pb0, pb1, n, k, out);
            return;
        }
        int sweep = sweepPanels(k);
        MemorySegment staged = B_STAGED.segment((long) Float.BYTES * Math.min(sweep, pb1 - pb0) * k * NR);
        float[] bounce = B_BOUNCE.floats(PackedWeights.BOUNCE_FLOATS);
        for (int ps = pb0; ps < pb1; ps += sweep) {
            int pe = Math.min(pb1, ps + sweep);
            b.stage((long) ps * k * NR, (pe - ps) * k * NR, staged, 0, bounce);
            multiplyBlock(a, aOff, m, pa0, pa1, staged, -(long) Float.BYTES * ps * k * NR, ps, pe, n, k, out);
        }
    }

    /** B panels one A panel sweeps before the next: as many as fit {@link #SWEEP_BYTES} in L2 beside the A block. */
    static int sweepPanels(int k) {
        return Math.max(1, SWEEP_BYTES / (Float.BYTES * NR * k));
    }

    /** A panels per block so that the block stays in L2 while B panels stream past. */
    static int aBlockPanels(int m, int k) {
        return Math.max(1, Math.min(panelsA(m), A_BLOCK_BYTES / Math.max(1, MR * k * 4)));
    }

    /**
     * The part of C = A B covered by A panels [pa0, pa1) and B panels [pb0, pb1), in the calling thread:
     * each sweep of B panels is reused across the block's A panels, each A panel meeting the whole sweep in turn.
     */
    static void multiplyBlock(float[] a, int aOff, int m, int pa0, int pa1, float[] b, int bOff, int pb0, int pb1,
                              int n, int k, GemmOutput out) {
        float[] tile = TILE.get();
        int colsPerPanel = out.columnsPerPanel();
        int sweep = sweepPanels(k);
        for (int ps = pb0; ps < pb1; ps += sweep) {
            int pe = Math.min(pb1, ps + sweep);
            for (int pa = pa0; pa < pa1; pa++) {
                int row0 = pa * MR;
                int rows = Math.min(MR, m - row0);
                for (int pb = ps; pb < pe; pb++) {
                    int col0 = pb * colsPerPanel;
                    kernel(a, aOff + pa * k * MR, b, bOff + pb * k * NR, k, tile);
                    out.store(tile, row0, rows, col0, Math.min(colsPerPanel, n - col0));
                }
            }
        }
    }

    /**
     * The part of C = A B covered by A panels [pa0, pa1) and B panels [pb0, pb1) of F32 panels in the off-heap
     * segment {@code b} (panel 0 at byte {@code bByte}), in the calling thread. Copying each panel to the heap first
     * cost 5-10% of the linear layers' time on a Zen 5 (docs/PERFORMANCE.md).
     */
    private static void multiplyBlock(float[] a, int aOff, int m, int pa0, int pa1, MemorySegment b, long bByte, int pb0, int pb1,
                                      int n, int k, GemmOutput out) {
        float[] tile = TILE.get();
        int colsPerPanel = out.columnsPerPanel();
        int sweep = sweepPanels(k);
        for (int ps = pb0; ps < pb1; ps += sweep) {
            int pe = Math.min(pb1, ps + sweep);
            for (int pa = pa0; pa < pa1; pa++) {
                int row0 = pa * MR;
                int rows = Math.min(MR, m - row0);
                for (int pb = ps; pb < pe; pb++) {
                    int col0 = pb * colsPerPanel;
                    kernel(a, aOff + pa * k * MR, k, b, bByte + (long) Float.BYTES * pb * k * NR, k, tile);
                    out.store(tile, row0, rows, col0, Math.min(colsPerPanel, n - col0));
                }
            }
        }
    }

    /**
     * The part of C = A B covered by A panels [pa0, pa1) of F32 panels in the off-heap segment {@code a} (panel 0 at
     * byte {@code aByte}) and B panels [pb0, pb1) in the heap array {@code b}, in the calling thread. Copying the A
     * block to the heap first cost 5-20% of the small images' im2col convolutions on a Zen 5 (docs/PERFORMANCE.md).
     */
    private static void multiplyBlock(MemorySegment a, long aByte, int m, int pa0, int pa1, float[] b, int bOff, int pb0, int pb1,
                                      int n, int k, GemmOutput out) {
        float[] tile = TILE.get();
        int colsPerPanel = out.columnsPerPanel();
        int sweep = sweepPanels(k);
        for (int ps = pb0; ps < pb1; ps += sweep) {
            int pe = Math.min(pb1, ps + sweep);
            for (int pa = pa0; pa < pa1; pa++) {
                int row0 = pa * MR;
                int rows = Math.min(MR, m - row0);
                for (int pb = ps; pb < pe; pb++) {
                    int col0 = pb * colsPerPanel;
                    kernel(a, aByte + (long) Float.BYTES * pa * k * MR, k, b, bOff + pb * k * NR, k, tile);
                    out.store(tile, row0, rows, col0, Math.min(colsPerPanel, n - col0));
                }
            }
        }
    }

    /** The MR x NR register tile over depth k, written to {@code tile} row-major (row stride NR). */
    static void kernel(float[] a, int ai, float[] b, int bi, int k, float[] tile) {
        kernel(a, ai, b, bi, k, tile, 0, NR);
    }

    /** The MR x NR register tile over depth k, written to {@code out} from {@code o} with row stride {@code stride}. */
    static void kernel(float[] a, int ai, float[] b, int bi, int k, float[] out, int o, int stride) {
        kernel(a, ai, k, b, bi, k, out, o, stride);
    }

    /**
     * The same with A's MR rows {@code aStride} floats apart (k for a packed A panel; attention reads its query
     * rows where they lie, a head's slice of each).
     */
    static void kernel(float[] a, int ai, int aStride, float[] b, int bi, int k, float[] out, int o, int stride) {
        FloatVector c00 = FloatVector.zero(F), c01 = FloatVector.zero(F);
        FloatVector c10 = FloatVector.zero(F), c11 = FloatVector.zero(F);
        FloatVector c20 = FloatVector.zero(F), c21 = FloatVector.zero(F);
        FloatVector c30 = FloatVector.zero(F), c31 = FloatVector.zero(F);
        FloatVector c40 = FloatVector.zero(F), c41 = FloatVector.zero(F);
        FloatVector c50 = FloatVector.zero(F), c51 = FloatVector.zero(F);
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

    /**
     * {@link #kernel(float[], int, int, float[], int, int, float[], int, int)} with B's panel in an off-heap segment
     * from byte {@code bi}, written to {@code tile} (row stride NR). The same loop: the Vector API loads from a heap
     * array and from a segment through different calls, and a heap segment wrapped around each array would be an
     * allocation per call wherever C2 does not inline the kernel.
     */
    static void kernel(float[] a, int ai, int aStride, MemorySegment b, long bi, int k, float[] tile) {
        FloatVector c00 = FloatVector.zero(F), c01 = FloatVector.zero(F);
        FloatVector c10 = FloatVector.zero(F), c11 = FloatVector.zero(F);
        FloatVector c20 = FloatVector.zero(F), c21 = FloatVector.zero(F);
        FloatVector c30 = FloatVector.zero(F), c31 = FloatVector.zero(F);
        FloatVector c40 = FloatVector.zero(F), c41 = FloatVector.zero(F);
        FloatVector c50 = FloatVector.zero(F), c51 = FloatVector.zero(F);
        int a1 = ai + aStride, a2 = ai + 2 * aStride, a3 = ai + 3 * aStride, a4 = ai + 4 * aStride, a5 = ai + 5 * aStride;
        for (int p = 0; p < k; p++, bi += (long) Float.BYTES * NR) {
            FloatVector b0 = FloatVector.fromMemorySegment(F, b, bi, ORDER);
            FloatVector b1 = FloatVector.fromMemorySegment(F, b, bi + (long) Float.BYTES * L, ORDER);
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
        c00.intoArray(tile, 0);
        c01.intoArray(tile, L);
        c10.intoArray(tile, NR);
        c11.intoArray(tile, NR + L);
        c20.intoArray(tile, 2 * NR);
        c21.intoArray(tile, 2 * NR + L);
        c30.intoArray(tile, 3 * NR);
        c31.intoArray(tile, 3 * NR + L);
        c40.intoArray(tile, 4 * NR);
        c41.intoArray(tile, 4 * NR + L);
        c50.intoArray(tile, 5 * NR);
        c51.intoArray(tile, 5 * NR + L);
    }

    /**
     * The register tile with A's MR rows in an off-heap segment ({@code aStride} floats apart from byte {@code ai}: a
     * packed F32 A panel of depth k read where it lies) and B's panel in a heap array, written to {@code tile} (row
     * stride NR); the same loop again, for the reason given at the segment-B kernel.
     */
    static void kernel(MemorySegment a, long ai, int aStride, float[] b, int bi, int k, float[] tile) {
        FloatVector c00 = FloatVector.zero(F), c01 = FloatVector.zero(F);
        FloatVector c10 = FloatVector.zero(F), c11 = FloatVector.zero(F);
        FloatVector c20 = FloatVector.zero(F), c21 = FloatVector.zero(F);
        FloatVector c30 = FloatVector.zero(F), c31 = FloatVector.zero(F);
        FloatVector c40 = FloatVector.zero(F), c41 = FloatVector.zero(F);
        FloatVector c50 = FloatVector.zero(F), c51 = FloatVector.zero(F);
        long row = (long) Float.BYTES * aStride;
        long a1 = ai + row, a2 = ai + 2 * row, a3 = ai + 3 * row, a4 = ai + 4 * row, a5 = ai + 5 * row;
        for (int p = 0; p < k; p++, bi += NR) {
            long at = (long) Float.BYTES * p;
            FloatVector b0 = FloatVector.fromArray(F, b, bi);
            FloatVector b1 = FloatVector.fromArray(F, b, bi + L);
            FloatVector x = FloatVector.broadcast(F, a.get(CpuVectors.FLOAT, ai + at));
            c00 = x.fma(b0, c00);
            c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(F, a.get(CpuVectors.FLOAT, a1 + at));
            c10 = x.fma(b0, c10);
            c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(F, a.get(CpuVectors.FLOAT, a2 + at));
            c20 = x.fma(b0, c20);
            c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(F, a.get(CpuVectors.FLOAT, a3 + at));
            c30 = x.fma(b0, c30);
            c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(F, a.get(CpuVectors.FLOAT, a4 + at));
            c40 = x.fma(b0, c40);
            c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(F, a.get(CpuVectors.FLOAT, a5 + at));
            c50 = x.fma(b0, c50);
            c51 = x.fma(b1, c51);
        }
        c00.intoArray(tile, 0);
        c01.intoArray(tile, L);
        c10.intoArray(tile, NR);
        c11.intoArray(tile, NR + L);
        c20.intoArray(tile, 2 * NR);
        c21.intoArray(tile, 2 * NR + L);
        c30.intoArray(tile, 3 * NR);
        c31.intoArray(tile, 3 * NR + L);
        c40.intoArray(tile, 4 * NR);
        c41.intoArray(tile, 4 * NR + L);
        c50.intoArray(tile, 5 * NR);
        c51.intoArray(tile, 5 * NR + L);
    }
}
