package io.jdiffusion.tornado;

import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.tornado.kernels.NormKernels;
import io.jdiffusion.tornado.kernels.Storage;
import io.jdiffusion.tornado.nvidia.CublasLtProvider;
import io.jdiffusion.tornado.nvidia.LtMatmul;
import io.jdiffusion.tornado.nvidia.SdpaShape;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

import static io.jdiffusion.tornado.BufferLayout.toInt;

/**
 * F16 attention whose heads are wider than cuDNN's fused kernel takes (more than {@value SdpaShape#MAX_HEAD}: the VAE's
 * one head of 512) on cuBLASLt, one chunk of queries at a time, for each batch entry and head:
 * <ol>
 *   <li>S = Q_chunk K^T into an F32 score array (cuBLASLt, F16 operands read in place in the activation arena, F32
 *       result: F16 scores of a 512-wide dot product would keep three digits before the exponential);</li>
 *   <li>P = softmax(scale S), rounded to F16 ({@link NormKernels#softmax});</li>
 *   <li>O_chunk = P V, written by cuBLASLt at the output's place in the arena.</li>
 * </ol>
 * The scores are materialised, but only for as many queries as fit {@link #SCORE_BYTES}: the whole 4096 x 4096 of a
 * 512x512 decode, an eighth of the 16384 x 16384 at 1024x1024. The Java flash kernel this replaces
 * ({@code AttentionKernels.attentionLargeHead}, F32 sums in CUDA cores) took 20 ms of the 60 ms decode on an H200
 * (2026-12-05); the two products are 34 GFLOP, a fraction of a millisecond on tensor cores.
 *
 * <p>Taken only where every operand is in the F16 arena (read in place), the key count and both head sizes are
 * multiples of 8 (16-byte rows for cuBLASLt's tensor-core kernels) and there is no causal mask; other wide heads stay
 * on the Java kernel.
 */
final class WideHeadAttention {
    /** Bytes of F32 scores one chunk of queries may take (and half that again for its F16 probabilities). */
    static final long SCORE_BYTES = 64L << 20;

    private final Set<Op.Attention> taken = Collections.newSetFromMap(new IdentityHashMap<>());
    private long scoreElements;
    private FloatArray scores;
    private HalfFloatArray probabilities;

    /** Whether {@code a}, whose operands are in the F16 arena ({@code inHalfArena}), runs here. */
    static boolean suits(Op.Attention a, boolean inHalfArena) {
        int d = a.headSize();
        int dv = a.valueHeadSize();
        int nk = a.keys();
        return inHalfArena && !a.causal() && Math.max(d, dv) > SdpaShape.MAX_HEAD && d % 8 == 0 && dv % 8 == 0 && nk % 8 == 0;
    }

    /** Takes {@code a} (which {@link #suits}). */
    void take(Op.Attention a) {
        taken.add(a);
        scoreElements = Math.max(scoreElements, (long) chunkRows(a) * a.keys());
    }

    boolean has(Op op) {
        return op instanceof Op.Attention a && taken.contains(a);
    }

    boolean isEmpty() {
        return taken.isEmpty();
    }

    /** Queries per chunk: as many as {@link #SCORE_BYTES} of F32 scores hold, at least one, at most all. */
    static int chunkRows(Op.Attention a) {
        return chunkRows(a, SCORE_BYTES, 1);
    }

    /**
     * Queries per chunk: as many as {@code scoreBytes} of F32 scores hold for {@code heads} heads at once (this path
     * runs its heads one at a time; {@link ScoreAttention} batches every head), at least one, at most all.
     */
    static int chunkRows(Op.Attention a, long scoreBytes, int heads) {
        long perQuery = (long) Float.BYTES * heads * a.keys();
        return (int) Math.max(1, Math.min(a.queries(), scoreBytes / perQuery));
    }

    /** The score and probability arrays, device-only and poisoned (NaN) so that a read of anything unwritten shows. */
    void allocate(DeviceArrays arrays) {
        if (taken.isEmpty()) {
            return;
        }
        scores = arrays.deviceOnlyFloats(toInt(scoreElements, "attention scores"), true);
        probabilities = arrays.deviceOnlyHalves(toInt(scoreElements, "attention probabilities"), true);
    }

    /** The arrays every task graph of a chained call declares (none before {@link #allocate} or when nothing was taken). */
    List<Object> buffers() {
        return scores == null ? List.of() : List.of(scores, probabilities);
    }

    /** Per batch entry, head and chunk: two cuBLASLt tasks of three array parameters, and the softmax. */
    static TaskCost cost(Op.Attention a) {
        int chunks = (a.queries() + chunkRows(a) - 1) / chunkRows(a);
        TaskCost chunk = TaskCost.launch(3).times(2).plus(TaskCost.of(NormKernels.class, "softmax"));
        return chunk.times(a.batch() * a.heads() * chunks);
    }

    /**
     * The tasks of {@code a}. Layouts in cuBLAS's column-major terms, with hd = heads x d (the row length of Q and K)
     * and hv = heads x dv (of V and O): the scores S^T (nk x rows, ld nk) = K (stored d x nk, ld hd, transposed) times
     * Q_chunk^T (d x rows, ld hd), that is S row-major [rows][nk]; O_chunk^T (dv x rows, ld hv) = V^T (dv x nk, ld hv)
     * times P^T (nk x rows, ld nk).
     */
    void emit(Op.Attention a, Emission e, FloatArray workspace) {
        int batch = a.batch();
        int nq = a.queries();
        int nk = a.keys();
        int heads = a.heads();
        int d = a.headSize();
        int dv = a.valueHeadSize();
        int hd = heads * d;
        int hv = heads * dv;
        long q = e.slot(a.q()).offset();
        long k = e.slot(a.k()).offset();
        long v = e.slot(a.v()).offset();
        long o = e.slot(a.out()).offset();
        int rowsPerChunk = chunkRows(a);
        HalfFloatArray arena = e.halfArena();
        // Parameters of both products: the workspace, the arena, then the scores or the probabilities.
        Object[] scoreArrays = {workspace, arena, scores};
        Object[] valueArrays = {workspace, arena, probabilities};
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                for (int r0 = 0; r0 < nq; r0 += rowsPerChunk) {
                    int rows = Math.min(rowsPerChunk, nq - r0);
                    LtMatmul s = new LtMatmul(LtMatmul.ElementType.F16, LtMatmul.ElementType.F32, nk, rows, d, true, false, hd, hd, nk,
                            new LtMatmul.Operand(1, k + (long) b * nk * hd + (long) h * d),
                            new LtMatmul.Operand(1, q + ((long) b * nq + r0) * hd + (long) h * d), null, new LtMatmul.Operand(2, 0), null, 0);
                    e.tasks().libraryTask(e.nextTask(), CublasLtProvider::matmul, s, scoreArrays.clone());
                    String softmax = e.nextTask();
                    // The probabilities are the kernel's F16 array (its "arena" argument); the scores its F32 input.
                    e.tasks().task(softmax, NormKernels::softmax, e.ctx(), probabilities, Storage.OUT, e.args(0, 0, nk), scores, scores,
                            a.scale());
                    e.grid(softmax, new WorkerGrid1D(rows * NormKernels.THREADS), NormKernels.THREADS, 1, 1);
                    LtMatmul pv = new LtMatmul(LtMatmul.ElementType.F16, dv, rows, nk, false, false, hv, nk, hv,
                            new LtMatmul.Operand(1, v + (long) b * nk * hv + (long) h * dv), new LtMatmul.Operand(2, 0), null,
                            new LtMatmul.Operand(1, o + ((long) b * nq + r0) * hv + (long) h * dv), null, 0);
                    e.tasks().libraryTask(e.nextTask(), CublasLtProvider::matmul, pv, valueArrays.clone());
                }
            }
        }
    }
}
