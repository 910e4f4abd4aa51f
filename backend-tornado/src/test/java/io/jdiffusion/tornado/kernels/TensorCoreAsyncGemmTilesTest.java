package io.jdiffusion.tornado.kernels;

import org.junit.jupiter.api.Test;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.HalfFloat;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link TensorCoreAsyncGemm}'s copies fill a k step's tiles exactly as {@link TensorCoreKernels#gemm}'s register loaders
 * do: the convolution's weight tile (A), the Linear's weight tile (B) and a Linear's F16 activation tile (A, pairs past
 * the rows or K as zeros), every one of the 256 threads' 8 pairs, at the first, a middle and the last step of K. Host
 * side: {@link KernelContext#asyncCopyToLocal} is the copy's Java form (two halves packed low, high), and the loaders
 * read the same arrays; the operands hold distinct F16 bit patterns, so a pair from the wrong place shows.
 */
class TensorCoreAsyncGemmTilesTest {
    private static final int PAIRS = 2048;
    private static final int THREADS = TensorCoreKernels.THREADS;

    @Test
    void convolutionWeightTilesMatchTheRegisterLoader() {
        for (int[] g : new int[][]{{320, 2880}, {7, 117}, {1280, 11520}}) {
            int cout = g[0];
            int kp = roundUp(g[1], TensorCoreKernels.BLOCK_K);
            int rowsPadded = roundUp(cout, TensorCoreKernels.BLOCK_M);
            int wOff = 64;
            HalfFloatArray w = distinct(wOff + rowsPadded * kp, 1);
            for (int row0 = 0; row0 < rowsPadded; row0 += TensorCoreKernels.BLOCK_M) {
                for (int kn : steps(kp)) {
                    int[] registers = new int[PAIRS];
                    int[] copied = new int[PAIRS];
                    KernelContext ctx = new KernelContext();
                    for (int idx = 0; idx < PAIRS; idx++) {
                        registers[idx] = TensorCoreKernels.loadA(new FloatArray(1), w, false, 0, w, wOff, TensorCoreKernels.MODE_CONV, idx,
                                kn, row0, cout, g[1], kp, 0);
                        ctx.asyncCopyToLocal(copied, idx, w, TensorCoreAsyncGemm.convWeight(wOff, idx, kn, row0, kp));
                    }
                    assertThat(copied).as("cout %d, K %d, row block %d, k step %d", cout, g[1], row0, kn).isEqualTo(registers);
                }
            }
        }
    }

    @Test
    void linearWeightTilesMatchTheRegisterLoaderWithAndWithoutGeglu() {
        // n outputs, k, GEGLU: the layouts TensorCoreWeights packs (value columns, then gates from halfPadded)
        for (int[] g : new int[][]{{320, 320, 0}, {300, 200, 0}, {2560, 320, 1}, {160, 520, 1}}) {
            boolean geglu = g[2] == 1;
            int kp = roundUp(g[1], TensorCoreKernels.BLOCK_K);
            int hp = geglu ? roundUp(g[0] / 2, TensorCoreKernels.GEGLU_COLUMNS) : 0;
            int ldw = geglu ? 2 * hp : roundUp(g[0], TensorCoreKernels.BLOCK_N);
            int blockCols = geglu ? TensorCoreKernels.GEGLU_COLUMNS : TensorCoreKernels.BLOCK_N;
            int split = blockCols;
            int shift = geglu ? hp - TensorCoreKernels.GEGLU_COLUMNS : 0;
            int wOff = 128;
            HalfFloatArray w = distinct(wOff + kp * ldw, 3);
            int colBlocks = (geglu ? hp : ldw) / blockCols;
            for (int by = 0; by < colBlocks; by++) {
                int col0 = by * blockCols;
                for (int kn : steps(kp)) {
                    int[] registers = new int[PAIRS];
                    int[] copied = new int[PAIRS];
                    KernelContext ctx = new KernelContext();
                    for (int idx = 0; idx < PAIRS; idx++) {
                        registers[idx] = TensorCoreKernels.weightPair(w, wOff, idx, kn, kp, ldw, col0, split, shift);
                        ctx.asyncCopyToLocal(copied, idx, w, TensorCoreAsyncGemm.linearWeight(wOff, idx, kn, ldw, col0, split, shift));
                    }
                    assertThat(copied).as("n %d, K %d, GEGLU %s, column block %d, k step %d", g[0], g[1], geglu, by, kn)
                            .isEqualTo(registers);
                }
            }
        }
    }

    @Test
    void linearActivationTilesMatchTheRegisterLoaderWithZerosPastTheEdges() {
        // rows, K (even: the copied path's condition), row stride
        for (int[] g : new int[][]{{8192, 320, 320}, {154, 768, 768}, {19, 520, 520}, {70, 40, 1280}}) {
            int rows = g[0];
            int kTotal = g[1];
            int lda = g[2];
            int kp = roundUp(kTotal, TensorCoreKernels.BLOCK_K);
            int aOff = 96;
            HalfFloatArray f16 = distinct(aOff + rows * lda + lda, 5);
            for (int row0 : new int[]{0, roundUp(rows, TensorCoreKernels.BLOCK_M) - TensorCoreKernels.BLOCK_M}) {
                for (int kn : steps(kp)) {
                    int[] registers = new int[PAIRS];
                    int[] copied = new int[PAIRS];
                    KernelContext ctx = new KernelContext();
                    for (int idx = 0; idx < PAIRS; idx++) {
                        registers[idx] = TensorCoreKernels.loadA(new FloatArray(1), f16, true, aOff, f16, 0, TensorCoreKernels.MODE_LINEAR,
                                idx, kn, row0, rows, kTotal, kp, lda);
                        int at = TensorCoreAsyncGemm.activationPair(aOff, idx, kn, row0, rows, kTotal, lda);
                        if (at >= 0) {
                            ctx.asyncCopyToLocal(copied, idx, f16, at);
                        }
                    }
                    assertThat(copied).as("rows %d, K %d, row block at %d, k step %d", rows, kTotal, row0, kn).isEqualTo(registers);
                }
            }
        }
    }

    @Test
    void everyThreadsPairsLandInTheSlotsTheRegisterPathStoresThem() {
        // a Linear's B pair i of thread t goes to bSlot + bStep (the register path) and to t + 256 i (the copy)
        for (int tid = 0; tid < THREADS; tid++) {
            for (int i = 0; i < 8; i++) {
                assertThat(TensorCoreKernels.bSlot(TensorCoreKernels.MODE_LINEAR, tid) + TensorCoreKernels.bStep(TensorCoreKernels.MODE_LINEAR, i))
                        .isEqualTo(tid + i * THREADS);
            }
        }
    }

    /** The first, a middle and the last k step of a K padded to kp. */
    private static int[] steps(int kp) {
        int last = kp - TensorCoreKernels.BLOCK_K;
        return new int[]{0, last / 2 / TensorCoreKernels.BLOCK_K * TensorCoreKernels.BLOCK_K, last};
    }

    /** Halves whose bit patterns differ from their neighbours' and stay finite (no Inf or NaN exponent). */
    private static HalfFloatArray distinct(int n, int seed) {
        HalfFloatArray a = new HalfFloatArray(n);
        Random r = new Random(seed);
        for (int i = 0; i < n; i++) {
            int bits = (i * 7919 + r.nextInt(4)) & 0x3FFF;
            a.set(i, new HalfFloat((short) (bits == 0 ? 1 : bits)));
        }
        return a;
    }

    private static int roundUp(int n, int m) {
        return (n + m - 1) / m * m;
    }
}
