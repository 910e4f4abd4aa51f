package io.jdiffusion.tornado;

import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.tornado.kernels.AttentionKernels;
import io.jdiffusion.tornado.kernels.GemmKernels;
import io.jdiffusion.tornado.kernels.KernelMath;
import io.jdiffusion.tornado.kernels.NormKernels;
import io.jdiffusion.tornado.kernels.PointwiseKernels;
import io.jdiffusion.tornado.kernels.Storage;
import io.jdiffusion.tornado.kernels.TensorCoreAttention;
import io.jdiffusion.tornado.kernels.TensorCoreKernels;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.WorkerGrid2D;
import uk.ac.manchester.tornado.api.WorkerGrid3D;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

import static io.jdiffusion.tornado.BufferLayout.toInt;
import static io.jdiffusion.tornado.TaskGraphChain.tiles;

/**
 * Attention as two matrix products around a softmax on the Java kernels, one chunk of queries at a time, for each
 * batch entry:
 * <ol>
 *   <li>S = Q_chunk K^T into an F32 score array, every head's at once;</li>
 *   <li>P = softmax(scale S), written over S ({@link NormKernels#softmax});</li>
 *   <li>O_chunk = P V, at the output's place.</li>
 * </ol>
 * With tensor cores (F16, {@link TensorCorePath}) both products run on {@link TensorCoreKernels#gemm}, each head an
 * image of a batched product, whose B operands are zero-padded F16 panels: K^T and V of every head are copied into
 * panels once per batch entry ({@link PointwiseKernels#halfPanel}). Without, on {@link GemmKernels#linear}, which reads
 * K where it lies as its [n, k] weight and V transposed once per batch entry ({@link PointwiseKernels#transpose}); that
 * kernel has no strides, so there only attention with one head is taken.
 *
 * <p>Taken, without a causal mask:
 * <ul>
 *   <li>heads wider than the flash kernels take (above {@value AttentionKernels#MAX_HEAD}: the VAE's one head of 512).
 *       The flash kernel for wide heads ({@link AttentionKernels#attentionLargeHead}) sums in F32 on CUDA cores with
 *       one key tile in flight, and took 20-30 ms of a 512x512 VAE decode on an H100 and an H200 for 34 GFLOP of
 *       products ({@value TornadoSettings#WIDE_HEAD_ATTENTION} = false keeps it);</li>
 *   <li>with tensor cores, where {@link TornadoSettings#scoreAttentionKeys()} asks for it (off by default), attention
 *       over at least that many keys in heads at least {@value #MIN_HEAD} wide. The tensor-core flash kernel
 *       ({@link TensorCoreAttention}) is ahead at every head it takes since its lanes read back their own scores: on
 *       an H100 in F16, 8 heads of 80 over 2 x 1024 keys 0.35 ms against 0.58 ms here, SDXL's 20 heads of 64 0.66
 *       against 1.45 ms (docs/PERFORMANCE.md).</li>
 * </ul>
 * The price is the scores of a chunk, at most {@link TornadoSettings#attentionScoreBytes()} (64 MiB by default: one
 * chunk for the VAE at 512x512, 16 at 1024x1024; one a batch entry for 8 heads over 1024 keys), as {@link
 * WideHeadAttention} does on cuBLASLt where the NVIDIA libraries run.
 */
final class ScoreAttention implements OperatorPath {
    /** Attentions compiled onto this path in this JVM: how tests see that it ran. */
    private static final AtomicLong TAKEN = new AtomicLong();
    /**
     * The most task-graph bytes one attention's launches may take: an operator is never cut across task graphs, and
     * the graph it gets alone also holds its own few tasks (the touch of every buffer, the first graph's poisoning).
     * A 1024x1024 VAE decode of one image takes 5.2 KiB on tensor cores (66 launches); an attention past the limit
     * (two images at that size) stays on the flash kernel.
     */
    static final int MAX_BYTES = TaskGraphChain.TASK_GRAPH_BYTES - 1024;
    /**
     * The narrowest head taken for its many keys. The scores cost the same traffic whatever the head (written, read
     * back through the GEMM's scratch, softmaxed, read again), the products' work grows with it. On an H100 in F16
     * (ProductBenchmark, 2026-12-06): 8 heads of 80 over 2 x 1024 keys 0.80 ms against the flash kernel's 1.30 ms; 8
     * heads of 40 over 2 x 4096 keys 10.80 ms against 9.57 ms, and the UNet call 137.78 ms against 128.52 ms.
     */
    static final int MIN_HEAD = 64;

    /** The tensor-core products' path, or null for the F32 kernels. */
    private final TensorCorePath tensorCores;
    private final long scoreBytes;
    /** {@link TornadoSettings#wideHeadAttention()}, read once for the graph. */
    private final boolean wideHeads;
    /** {@link TornadoSettings#scoreAttentionKeys()}, read once for the graph. */
    private final int manyKeys;
    private final Set<Op.Attention> taken = Collections.newSetFromMap(new IdentityHashMap<>());
    private long scoreElements;
    private long keyPanelElements;
    private long valuePanelElements;
    private FloatArray scores;
    /** K^T of every head of one batch entry as F16 panels (tensor cores). */
    private HalfFloatArray keyPanel;
    /** V of every head of one batch entry as F16 panels (tensor cores). */
    private HalfFloatArray valuePanel;
    /** V^T of one batch entry in F32 (the F32 kernels). */
    private FloatArray valuesTransposed;

    /** The path for one graph: its products on {@code tensorCores}, or on the F32 kernels where that is null. */
    ScoreAttention(TensorCorePath tensorCores) {
        this.tensorCores = tensorCores;
        this.scoreBytes = TornadoSettings.attentionScoreBytes();
        this.wideHeads = TornadoSettings.wideHeadAttention();
        this.manyKeys = TornadoSettings.scoreAttentionKeys();
    }

    /**
     * Whether {@code a} runs well here: no causal mask, and heads wider than the flash kernels take (one head only on
     * the F32 kernels), or with tensor cores at least {@link #manyKeys} keys in heads at least {@value #MIN_HEAD} wide.
     */
    boolean suits(Op.Attention a) {
        if (a.causal()) {
            return false;
        }
        if (JavaKernelPath.largeHead(a)) {
            return wideHeads && (tensorCores != null || a.heads() == 1);
        }
        return tensorCores != null && manyKeys > 0 && a.keys() >= manyKeys && a.headSize() >= MIN_HEAD;
    }

    /** Attentions compiled onto this path in this JVM so far. */
    static long taken() {
        return TAKEN.get();
    }

    /**
     * Takes {@code a} where it {@link #suits} and its launches fit one task graph ({@link #MAX_BYTES}), reserving the
     * tensor cores' scratch for its products; false leaves it to a flash kernel.
     */
    boolean take(Op.Attention a) {
        if (!suits(a) || cost(a).bytes() > MAX_BYTES) {
            return false;
        }
        taken.add(a);
        TAKEN.incrementAndGet();
        int nk = a.keys();
        int heads = a.heads();
        scoreElements = Math.max(scoreElements, (long) heads * chunkRows(a) * nk);
        if (tensorCores == null) {
            valuePanelElements = Math.max(valuePanelElements, (long) a.valueHeadSize() * nk);
            return true;
        }
        keyPanelElements = Math.max(keyPanelElements, (long) heads * kPadded(a.headSize()) * columnsPadded(nk));
        valuePanelElements = Math.max(valuePanelElements, (long) heads * kPadded(nk) * columnsPadded(a.valueHeadSize()));
        for (int rows : new int[]{chunkRows(a), lastRows(a)}) {
            tensorCores.reserveScratch(tileCount(a, rows, nk), scoreSplit(a, rows));
            tensorCores.reserveScratch(tileCount(a, rows, a.valueHeadSize()), valueSplit(a, rows));
        }
        return true;
    }

    /** The scores and the panels, device-only and poisoned (NaN) so that a read of anything unwritten shows. */
    void allocate(DeviceArrays arrays) {
        if (taken.isEmpty()) {
            return;
        }
        scores = arrays.deviceOnlyFloats(toInt(scoreElements, "attention scores"), true);
        if (tensorCores == null) {
            valuesTransposed = arrays.deviceOnlyFloats(toInt(valuePanelElements, "attention values"), true);
        } else {
            keyPanel = arrays.deviceOnlyHalves(toInt(keyPanelElements, "attention key panel"), true);
            valuePanel = arrays.deviceOnlyHalves(toInt(valuePanelElements, "attention value panel"), true);
        }
    }

    /** The arrays every task graph of a chained call declares (none before {@link #allocate} or when nothing was taken). */
    List<Object> buffers() {
        if (scores == null) {
            return List.of();
        }
        return tensorCores == null ? List.of(scores, valuesTransposed) : List.of(scores, keyPanel, valuePanel);
    }

    @Override
    public boolean handles(Op op) {
        return op instanceof Op.Attention a && taken.contains(a);
    }

    /** Per batch entry, the panels (or V^T); per chunk, two products and a softmax. */
    @Override
    public TaskCost cost(Op op) {
        Op.Attention a = (Op.Attention) op;
        TaskCost softmax = TaskCost.of(NormKernels.class, "softmax");
        TaskCost perEntry;
        TaskCost full;
        TaskCost last;
        if (tensorCores == null) {
            perEntry = TaskCost.of(PointwiseKernels.class, "transpose");
            full = TaskCost.of(GemmKernels.class, "linear").times(2).plus(softmax);
            last = full;
        } else {
            perEntry = TaskCost.of(PointwiseKernels.class, "halfPanel").times(2);
            full = chunkCost(a, chunkRows(a), softmax);
            last = chunkCost(a, lastRows(a), softmax);
        }
        return perEntry.plus(full.times(chunks(a) - 1)).plus(last).times(a.batch());
    }

    private TaskCost chunkCost(Op.Attention a, int rows, TaskCost softmax) {
        return tensorCores.productCost(scoreSplit(a, rows)).plus(softmax).plus(tensorCores.productCost(valueSplit(a, rows)));
    }

    /**
     * With tensor cores, the two products' {@link TensorCoreKernels} descriptors of a whole chunk, then of the last
     * chunk where it is shorter: S at 0, P V at {@code FIELDS}, and the last chunk's from {@code 2 FIELDS}.
     */
    @Override
    public int[] descriptor(Op op) {
        if (tensorCores == null) {
            return NO_DESCRIPTOR;
        }
        Op.Attention a = (Op.Attention) op;
        int full = chunkRows(a);
        int last = lastRows(a);
        int fields = TensorCoreKernels.FIELDS;
        int[] d = new int[(last == full ? 2 : 4) * fields];
        System.arraycopy(scoreDescriptor(a, full), 0, d, 0, fields);
        System.arraycopy(valueDescriptor(a, full), 0, d, fields, fields);
        if (last != full) {
            System.arraycopy(scoreDescriptor(a, last), 0, d, 2 * fields, fields);
            System.arraycopy(valueDescriptor(a, last), 0, d, 3 * fields, fields);
        }
        return d;
    }

    @Override
    public void emit(Op op, Emission e) {
        Op.Attention a = (Op.Attention) op;
        int nq = a.queries();
        int nk = a.keys();
        int heads = a.heads();
        int d = a.headSize();
        int dv = a.valueHeadSize();
        // rows of q and k hold every head's d columns, rows of v and out every head's dv
        int qRow = heads * d;
        int vRow = heads * dv;
        Slot q = e.slot(a.q());
        Slot k = e.slot(a.k());
        Slot v = e.slot(a.v());
        Slot o = e.slot(a.out());
        int full = chunkRows(a);
        for (int b = 0; b < a.batch(); b++) {
            int qEntry = q.offset() + b * nq * qRow;
            int kEntry = k.offset() + b * nk * qRow;
            int vEntry = v.offset() + b * nk * vRow;
            int oEntry = o.offset() + b * nq * vRow;
            if (tensorCores == null) {
                String id = e.nextTask();
                e.tasks().task(id, PointwiseKernels::transpose, e.ctx(), e.halfArena(), v.bit(Storage.X), e.args(vEntry, 0, nk, dv),
                        v.floats(), valuesTransposed);
                e.grid(id, new WorkerGrid3D(tiles(dv, 32) * 32, tiles(nk, 32) * 8, 1), 32, 8, 1);
            } else {
                panels(e, k, kEntry, nk, d, qRow, kPadded(d), columnsPadded(nk), true, heads, keyPanel);
                panels(e, v, vEntry, nk, dv, vRow, kPadded(nk), columnsPadded(dv), false, heads, valuePanel);
            }
            for (int r0 = 0; r0 < nq; r0 += full) {
                int rows = Math.min(full, nq - r0);
                if (tensorCores == null) {
                    scoresF32(e, a, q, k, qEntry + r0 * qRow, kEntry, rows);
                    softmax(e, a, rows);
                    outputF32(e, a, o, oEntry + r0 * vRow, rows);
                } else {
                    int meta = e.descriptor(a) + (rows == full ? 0 : 2 * TensorCoreKernels.FIELDS);
                    tensorCores.emitProduct(e, new TensorCorePath.ProductOperands(q.bit(Storage.X), q.floats(), qEntry + r0 * qRow,
                                    keyPanel, 0, scores, -1, scores, -1, scores, 0), meta, TensorCoreKernels.MODE_LINEAR,
                            TensorCorePath.linearTiles(rows, nk, heads), scoreSplit(a, rows));
                    softmax(e, a, rows);
                    tensorCores.emitProduct(e, new TensorCorePath.ProductOperands(o.bit(Storage.OUT), scores, 0, valuePanel, 0,
                                    o.floats(), -1, o.floats(), -1, o.floats(), oEntry + r0 * vRow), meta + TensorCoreKernels.FIELDS,
                            TensorCoreKernels.MODE_LINEAR, TensorCorePath.linearTiles(rows, dv, heads), valueSplit(a, rows));
                }
            }
        }
    }

    /**
     * {@code dst} = the F16 panels of {@code panels} heads of the operand at {@code srcOff} (each [srcRows, srcCols],
     * rows {@code srcStride} apart, head h h srcCols on), transposed or not, each [dstRows, dstCols] padded with zeros.
     */
    private static void panels(Emission e, Slot src, int srcOff, int srcRows, int srcCols, int srcStride, int dstRows, int dstCols,
                               boolean transposed, int panels, HalfFloatArray dst) {
        String id = e.nextTask();
        e.tasks().task(id, PointwiseKernels::halfPanel, e.ctx(), e.halfArena(), src.bit(Storage.X),
                e.args(srcOff, srcRows, srcCols, dstRows, dstCols, transposed ? 1 : 0, srcStride, panels), src.floats(), dst);
        e.pointwiseGrid(id, panels * dstRows * dstCols);
    }

    /** S [rows, nk] = Q_chunk K^T on {@link GemmKernels#linear}, K read as its weight [n, k]. */
    private void scoresF32(Emission e, Op.Attention a, Slot q, Slot k, int qOff, int kOff, int rows) {
        int nk = a.keys();
        String id = e.nextTask();
        e.tasks().task(id, GemmKernels::linear, e.ctx(), e.halfArena(), q.bit(Storage.X) | k.bit(Storage.Y),
                e.args(qOff, kOff, -1, -1, 0, rows, nk, a.headSize()), q.floats(), k.floats(), k.floats(), k.floats(), scores,
                KernelMath.ACT_NONE);
        e.grid(id, new WorkerGrid2D(tiles(nk, GemmKernels.TILE_N) * 16, tiles(rows, GemmKernels.TILE_M) * 16), 16, 16, 1);
    }

    /** O_chunk [rows, dv] = P V on {@link GemmKernels#linear}, with V^T as its weight [n, k]. */
    private void outputF32(Emission e, Op.Attention a, Slot o, int oOff, int rows) {
        int dv = a.valueHeadSize();
        String id = e.nextTask();
        e.tasks().task(id, GemmKernels::linear, e.ctx(), e.halfArena(), o.bit(Storage.OUT), e.args(0, 0, -1, -1, oOff, rows, dv, a.keys()),
                scores, valuesTransposed, valuesTransposed, valuesTransposed, o.floats(), KernelMath.ACT_NONE);
        e.grid(id, new WorkerGrid2D(tiles(dv, GemmKernels.TILE_N) * 16, tiles(rows, GemmKernels.TILE_M) * 16), 16, 16, 1);
    }

    /** P = softmax(scale S) over each of the chunk's rows of every head, written over S. */
    private void softmax(Emission e, Op.Attention a, int rows) {
        String id = e.nextTask();
        e.tasks().task(id, NormKernels::softmax, e.ctx(), e.halfArena(), 0, e.args(0, 0, a.keys()), scores, scores, a.scale());
        e.grid(id, new WorkerGrid1D(a.heads() * rows * NormKernels.THREADS), NormKernels.THREADS, 1, 1);
    }

    /** Queries per chunk: as many as {@link #scoreBytes} of F32 scores of every head hold, at least one, at most all. */
    private int chunkRows(Op.Attention a) {
        return WideHeadAttention.chunkRows(a, scoreBytes, a.heads());
    }

    private int chunks(Op.Attention a) {
        return tiles(a.queries(), chunkRows(a));
    }

    /** Queries of the last chunk (all of a chunk where they divide evenly). */
    private int lastRows(Op.Attention a) {
        return a.queries() - (chunks(a) - 1) * chunkRows(a);
    }

    /**
     * S = Q_chunk K^T, head h an image: K over the head, B head h's K^T panel [kPadded(d), columnsPadded(nk)], S of head
     * h [rows, nk] h rows nk on.
     */
    private int[] scoreDescriptor(Op.Attention a, int rows) {
        int d = a.headSize();
        int nk = a.keys();
        var batch = new TensorCorePath.Batch(a.heads(), a.heads() * d, d, kPadded(d) * columnsPadded(nk), nk, rows * nk);
        return TensorCorePath.linearDescriptor(rows, nk, d, kPadded(d), columnsPadded(nk), batch, scoreSplit(a, rows));
    }

    /** O = P V, head h an image: K over the keys, B head h's V panel [kPadded(nk), columnsPadded(dv)], O in head h's columns. */
    private int[] valueDescriptor(Op.Attention a, int rows) {
        int nk = a.keys();
        int dv = a.valueHeadSize();
        var batch = new TensorCorePath.Batch(a.heads(), nk, rows * nk, kPadded(nk) * columnsPadded(dv), a.heads() * dv, dv);
        return TensorCorePath.linearDescriptor(rows, dv, nk, kPadded(nk), columnsPadded(dv), batch, valueSplit(a, rows));
    }

    private SplitK scoreSplit(Op.Attention a, int rows) {
        return tensorCores.split(tileCount(a, rows, a.keys()), kPadded(a.headSize()));
    }

    private SplitK valueSplit(Op.Attention a, int rows) {
        return tensorCores.split(tileCount(a, rows, a.valueHeadSize()), kPadded(a.keys()));
    }

    /** Output tiles of a product of {@code rows} x {@code cols} for every head. */
    private static int tileCount(Op.Attention a, int rows, int cols) {
        int[] t = TensorCorePath.linearTiles(rows, cols, a.heads());
        return t[0] * t[1] * t[2];
    }

    /** K of a tensor-core product, padded to whole steps. */
    private static int kPadded(int k) {
        return tiles(k, TensorCoreKernels.BLOCK_K) * TensorCoreKernels.BLOCK_K;
    }

    /** Columns of a B panel: whole output tiles, so that the kernel's loads stay inside the panel. */
    private static int columnsPadded(int n) {
        return tiles(n, TensorCoreKernels.BLOCK_N) * TensorCoreKernels.BLOCK_N;
    }
}
