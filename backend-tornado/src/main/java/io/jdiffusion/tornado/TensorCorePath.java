package io.jdiffusion.tornado;

import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.tornado.kernels.Storage;
import io.jdiffusion.tornado.kernels.TensorCoreAsyncGemm;
import io.jdiffusion.tornado.kernels.TensorCoreAttention;
import io.jdiffusion.tornado.kernels.TensorCoreKernels;
import uk.ac.manchester.tornado.api.WorkerGrid3D;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

import static io.jdiffusion.tornado.BufferLayout.align;
import static io.jdiffusion.tornado.BufferLayout.toInt;
import static io.jdiffusion.tornado.TaskGraphChain.tiles;

/**
 * The tensor-core kernels of the PTX and CUDA backends, in F16: {@code Linear} and {@code Conv2d} with a constant
 * weight on {@link TensorCoreKernels}, whose weights go, in F16 and the kernels' padded layouts
 * ({@link TensorCoreWeights}), into one half-precision weight array; attention with heads up to
 * {@value TensorCoreAttention#MAX_HEAD} on {@link TensorCoreAttention}. Their work-groups share a scratch buffer
 * for the epilogue. {@link ScoreAttention} runs the two products of a wider head through {@link #emitProduct}, on
 * panels of its own, and reserves their part of the scratch.
 */
final class TensorCorePath implements OperatorPath {
    /**
     * Threads that pack the F16 weights at most (SD 1.5's UNet on a two-core Zen 5: 6.4-6.9 s on one thread, 5.1-5.2 s
     * on two; docs/PERFORMANCE.md).
     */
    private static final int PACKING_THREADS = 4;
    /** Products compiled split along K in this JVM: how tests see that a split ran. */
    private static final AtomicLong SPLIT_PRODUCTS = new AtomicLong();

    private final String graphName;
    /** Whether products run on {@link TensorCoreAsyncGemm} (the CUDA backend) rather than {@link TensorCoreKernels#gemm}. */
    private final boolean asyncCopies;
    /** The device's multiprocessors, which decide the products split along K ({@link SplitK}). */
    private final int multiprocessors;
    /** {@link TornadoSettings#splitK()}, read once for the graph. */
    private final int splitSetting;
    /** The split of each product taken (none for most). */
    private final Map<Op, SplitK> splits = new IdentityHashMap<>();
    /** The products taken, and where their F16 weights start in {@link #halfWeights}. */
    private final Map<Op, Integer> halfOffsets = new IdentityHashMap<>();
    private final Set<Op> attention = Collections.newSetFromMap(new IdentityHashMap<>());
    private long halfCursor;
    private long scratchFloats;
    /** F16 weights of the products; null when there are none. */
    private HalfFloatArray halfWeights;
    /** Epilogue tiles, {@link TensorCoreKernels#TILE_FLOATS} per work-group (or the attention's tiles). */
    private FloatArray scratch;

    TensorCorePath(String graphName, int multiprocessors, boolean asyncCopies) {
        this.graphName = graphName;
        this.asyncCopies = asyncCopies;
        this.multiprocessors = multiprocessors;
        this.splitSetting = TornadoSettings.splitK();
    }

    /**
     * Takes a Linear or Conv2d with a constant weight; false leaves a convolution of more than
     * {@link TensorCoreKernels#MAX_TAPS} filter taps to another path.
     */
    boolean takeProduct(Op op) {
        if (op instanceof Op.Conv2d c && c.weight().shape().countFrom(2) > TensorCoreKernels.MAX_TAPS) {
            return false;
        }
        int[] tiles = tileGrid(op);
        int kPadded = op instanceof Op.Linear l ? linearLayout(l).kPadded() : convLayout((Op.Conv2d) op).kPadded();
        SplitK split = split(tiles[0] * tiles[1] * tiles[2], kPadded);
        splits.put(op, split);
        halfOffsets.put(op, toInt(halfCursor, "F16 weights"));
        halfCursor = align(halfCursor + halfElements(op));
        reserveScratch(tiles[0] * tiles[1] * tiles[2], split);
        return true;
    }

    /** Takes an attention whose heads fit the kernel; false leaves it to another path. */
    boolean takeAttention(Op.Attention a) {
        int d = a.headSize();
        int dv = a.valueHeadSize();
        if (d > TensorCoreAttention.MAX_HEAD || dv > TensorCoreAttention.MAX_HEAD) {
            return false;
        }
        attention.add(a);
        int[] g = attentionGrid(a);
        scratchFloats = Math.max(scratchFloats, (long) g[0] * g[1] * g[2] * TensorCoreAttention.TILE_FLOATS);
        return true;
    }

    /**
     * Packs the taken products' weights and sizes the scratch. {@code storageRoot} gives the value that stores a
     * weight: its tensor is packed, then its pages of a memory-mapped checkpoint go back to the file at once, not after
     * the whole network. Otherwise the host held the network's weights twice while it compiled, the file's pages
     * beside the packed F16 copy: a whole SD 1.5 pipeline on the Java kernels peaked at 4.35 GiB resident against
     * 3.13 GiB on the library path, which releases each weight as it converts it.
     */
    void allocate(Function<Value, Value> storageRoot, DeviceArrays deviceArrays) {
        if (scratchFloats == 0) {
            return;
        }
        // a fresh region of the scratch file (or a new TornadoVM array) reads as zeros: the padding between packed
        // weights needs no fill
        halfWeights = deviceArrays.readOnlyHalves(Math.max(1, toInt(halfCursor, "F16 weights")));
        scratch = deviceArrays.deviceOnlyFloats(toInt(scratchFloats, "tensor-core scratch"), true);
        // Each weight goes to a region of its own, so threads pack them side by side; a few threads only, since
        // each holds a weight's F16 copy on the heap (up to 13 MB for SD 1.5, 26 MB for SDXL).
        List<Map.Entry<Op, Integer>> products = new ArrayList<>(halfOffsets.entrySet());
        int threads = Math.max(1, Math.min(PACKING_THREADS, Runtime.getRuntime().availableProcessors()));
        try (ForkJoinPool pool = new ForkJoinPool(threads)) {
            pool.submit(() -> products.parallelStream().forEach(e -> pack(e.getKey(), e.getValue(), storageRoot))).join();
        }
    }

    /** Packs one product's weight at {@code offset} of the F16 array, then releases its checkpoint pages. */
    private void pack(Op op, int offset, Function<Value, Value> storageRoot) {
        Value stored = storageRoot.apply(productWeight(op));
        Tensor w = stored.constant();
        if (op instanceof Op.Linear l) {
            linearLayout(l).pack(w, halfWeights, offset);
        } else {
            convLayout((Op.Conv2d) op).pack(w, halfWeights, offset);
        }
        stored.releaseMappedPages();
    }

    /** The F16 weights and the scratch, which every task graph of a chain declares; empty when nothing was taken. */
    List<Object> buffers() {
        List<Object> b = new ArrayList<>();
        if (halfWeights != null) {
            b.add(halfWeights);
            b.add(scratch);
        }
        return b;
    }

    @Override
    public boolean handles(Op op) {
        return halfOffsets.containsKey(op) || attention.contains(op);
    }

    @Override
    public TaskCost cost(Op op) {
        if (attention.contains(op)) {
            return TaskCost.of(TensorCoreAttention.class, "attention");
        }
        return productCost(splits.get(op));
    }

    @Override
    public int[] descriptor(Op op) {
        return op instanceof Op.Attention a ? attentionDescriptor(a) : gemmDescriptor(op);
    }

    @Override
    public void emit(Op op, Emission e) {
        switch (op) {
            case Op.Attention a -> attention(a, e);
            case Op.Linear l -> gemm(l, l.x(), l.bias(), l.residual(), e);
            case Op.Conv2d c -> gemm(c, c.x(), c.bias(), c.residual(), e);
            default -> throw new IllegalStateException(op + " is not a tensor-core operator");
        }
    }

    /** Products emitted split along K in this JVM so far. */
    static long splitProducts() {
        return SPLIT_PRODUCTS.get();
    }

    /** The weight of a Linear or Conv2d (the operators the tensor-core GEMM runs); null for any other. */
    static Value productWeight(Op op) {
        return switch (op) {
            case Op.Linear l -> l.weight();
            case Op.Conv2d c -> c.weight();
            default -> null;
        };
    }

    /** A Linear or Conv2d: {@link #emitProduct} on its weight's F16 layout. */
    private void gemm(Op op, Value xv, Value bias, Value residual, Emission e) {
        Slot x = e.slot(xv);
        Slot b = bias == null ? null : e.slot(bias);
        Slot r = residual == null ? null : e.slot(residual);
        Slot o = e.slot(op.out());
        int halves = x.bit(Storage.X) | Slot.bit(b, Storage.Z) | Slot.bit(r, Storage.RESIDUAL) | o.bit(Storage.OUT);
        // a missing bias or residual is offset -1 (the output's array stands in)
        ProductOperands p = new ProductOperands(halves, x.floats(), x.offset(), halfWeights, halfOffsets.get(op),
                b == null ? o.floats() : b.floats(), b == null ? -1 : b.offset(), r == null ? o.floats() : r.floats(),
                r == null ? -1 : r.offset(), o.floats(), o.offset());
        int mode = op instanceof Op.Linear ? TensorCoreKernels.MODE_LINEAR : TensorCoreKernels.MODE_CONV;
        emitProduct(e, p, e.descriptor(op), mode, tileGrid(op), splits.get(op));
    }

    /**
     * The operands of one {@link TensorCoreKernels#gemm}: the {@link Storage} mask, A (the activations of a Linear)
     * and B (the padded F16 weight panel of a Linear, the F16 weight of a convolution), the epilogue's bias and
     * residual (offset -1: none) and the output.
     */
    record ProductOperands(int halves, FloatArray x, int xOff, HalfFloatArray w, int wOff, FloatArray bias, int bOff,
                           FloatArray res, int rOff, FloatArray out, int oOff) {
    }

    /**
     * One product on {@link TensorCoreKernels#gemm} with its descriptor at {@code meta} of the layout's descriptor
     * array: one 256-thread work-group per 128x128 tile of {@code tiles} (row blocks, column blocks, images), per tile
     * and part of K where {@code split}, then {@link TensorCoreKernels#splitEpilogue}, 16 work-groups per tile.
     */
    void emitProduct(Emission e, ProductOperands p, int meta, int mode, int[] tiles, SplitK split) {
        String id = e.nextTask();
        IntArray args = asyncCopies || split.split() ? e.args(productArgs(p, meta)) : null;
        if (asyncCopies) {
            // its copies move whole F16 pairs: every weight operand starts at an even element (halfCursor's alignment,
            // ScoreAttention's panels at 0, every layout's row strides even)
            e.tasks().task(id, TensorCoreAsyncGemm::gemm, e.ctx(), e.halfArena(), p.halves(), p.x(), p.w(), p.bias(), p.res(), p.out(),
                    scratch, e.shapes(), args, mode);
        } else {
            e.tasks().task(id, TensorCoreKernels::gemm, e.ctx(), e.halfArena(), p.halves(), p.x(), p.xOff(), p.w(), p.wOff(),
                    p.bias(), p.bOff(), p.res(), p.rOff(), p.out(), p.oOff(), scratch, e.shapes(), meta, mode);
        }
        e.grid(id, new WorkerGrid3D(tiles[0] * TensorCoreKernels.THREADS, tiles[1], tiles[2] * split.splits()),
                TensorCoreKernels.THREADS, 1, 1);
        if (split.split()) {
            String sum = e.nextTask();
            e.tasks().task(sum, TensorCoreKernels::splitEpilogue, e.ctx(), e.halfArena(), p.halves(), p.bias(), p.res(), p.out(), scratch,
                    e.shapes(), args, mode);
            e.grid(sum, new WorkerGrid3D(TensorCoreKernels.epilogueThreads(tiles[0] * tiles[1] * tiles[2]), 1, 1), TensorCoreKernels.THREADS,
                    1, 1);
            SPLIT_PRODUCTS.incrementAndGet();
        }
    }

    /** A product's {@code args} ({@link TensorCoreKernels#ARG_X} to {@link TensorCoreKernels#ARG_META}). */
    static int[] productArgs(ProductOperands p, int meta) {
        int[] a = new int[TensorCoreKernels.ARGS];
        a[TensorCoreKernels.ARG_X] = p.xOff();
        a[TensorCoreKernels.ARG_W] = p.wOff();
        a[TensorCoreKernels.ARG_BIAS] = p.bOff();
        a[TensorCoreKernels.ARG_RESIDUAL] = p.rOff();
        a[TensorCoreKernels.ARG_OUT] = p.oOff();
        a[TensorCoreKernels.ARG_META] = meta;
        return a;
    }

    /** The launches of one product split as {@code split}. */
    TaskCost productCost(SplitK split) {
        TaskCost gemm = asyncCopies ? TaskCost.of(TensorCoreAsyncGemm.class, "gemm") : TaskCost.of(TensorCoreKernels.class, "gemm");
        return split.split() ? gemm.plus(TaskCost.of(TensorCoreKernels.class, "splitEpilogue")) : gemm;
    }

    /** The split along K of a product of {@code tiles} output tiles and K {@code kPadded} on this device. */
    SplitK split(int tiles, int kPadded) {
        return SplitK.choose(tiles, kPadded, multiprocessors, splitSetting);
    }

    /** Makes the scratch hold the partial tiles of a product of {@code tiles} output tiles split as {@code split}. */
    void reserveScratch(int tiles, SplitK split) {
        scratchFloats = Math.max(scratchFloats, (long) tiles * split.splits() * TensorCoreKernels.TILE_FLOATS);
    }

    /**
     * How the images of a batched plain product (the heads of an attention) lie: A's rows {@code aStride} apart, the
     * output's {@code outStride} apart, and image i's A, B panel and output {@code i aImage}, {@code i wImage} and
     * {@code i outImage} elements on.
     */
    record Batch(int images, int aStride, int aImage, int wImage, int outStride, int outImage) {
    }

    /**
     * The descriptor of a plain product in the linear mode: per image of {@code batch}, A [rows, kTotal], B a padded F16
     * panel [kPadded, wStride] (zero beyond K), {@code cols} outputs a row, no activation.
     */
    static int[] linearDescriptor(int rows, int cols, int kTotal, int kPadded, int wStride, Batch batch, SplitK split) {
        int[] d = productDescriptor(linearTiles(rows, cols, batch.images()), split, rows, cols, kTotal, kPadded, wStride);
        d[TensorCoreKernels.ACT] = JavaKernelPath.activationCode(Activation.NONE);
        d[TensorCoreKernels.A_STRIDE] = batch.aStride();
        d[TensorCoreKernels.A_IMAGE] = batch.aImage();
        d[TensorCoreKernels.W_IMAGE] = batch.wImage();
        d[TensorCoreKernels.OUT_STRIDE] = batch.outStride();
        d[TensorCoreKernels.OUT_IMAGE] = batch.outImage();
        return d;
    }

    /** Row blocks, column blocks and images of a plain product of {@code rows} x {@code cols} outputs an image. */
    static int[] linearTiles(int rows, int cols, int images) {
        return new int[]{tiles(rows, TensorCoreKernels.BLOCK_M), tiles(cols, TensorCoreKernels.BLOCK_N), images};
    }

    /**
     * A descriptor with the fields of every product: its {@code tiles} (row blocks, column blocks, images), the split
     * along K, A's rows and the outputs a row, K and its padding, B's row stride; A's and the output's rows packed
     * (a Linear's; a convolution reads neither stride).
     */
    private static int[] productDescriptor(int[] tiles, SplitK split, int rows, int cols, int kTotal, int kPadded, int wStride) {
        int[] d = new int[TensorCoreKernels.FIELDS];
        d[TensorCoreKernels.ROW_BLOCKS] = tiles[0];
        d[TensorCoreKernels.COL_BLOCKS] = tiles[1];
        d[TensorCoreKernels.BATCH] = tiles[2];
        d[TensorCoreKernels.SPLITS] = split.splits();
        d[TensorCoreKernels.K_CHUNK] = split.chunk();
        d[TensorCoreKernels.ROWS] = rows;
        d[TensorCoreKernels.COLS] = cols;
        d[TensorCoreKernels.K_TOTAL] = kTotal;
        d[TensorCoreKernels.K_PADDED] = kPadded;
        d[TensorCoreKernels.W_STRIDE] = wStride;
        d[TensorCoreKernels.A_STRIDE] = kTotal;
        d[TensorCoreKernels.OUT_STRIDE] = cols;
        return d;
    }

    private void attention(Op.Attention a, Emission e) {
        Slot q = e.slot(a.q());
        Slot k = e.slot(a.k());
        Slot v = e.slot(a.v());
        Slot o = e.slot(a.out());
        String id = e.nextTask();
        e.tasks().task(id, TensorCoreAttention::attention, e.ctx(), e.halfArena(), JavaKernelPath.attentionHalves(q, k, v, o),
                e.args(q.offset(), k.offset(), v.offset(), o.offset(), e.descriptor(a)), q.floats(), k.floats(), v.floats(), o.floats(),
                scratch, e.shapes(), a.scale(), a.causal() ? 1 : 0);
        int[] g = attentionGrid(a);
        e.grid(id, new WorkerGrid3D(g[0] * TensorCoreAttention.THREADS, g[1], g[2]), TensorCoreAttention.THREADS, 1, 1);
    }

    /** Query blocks, batch * heads and value-column chunks of an attention's grid. */
    private static int[] attentionGrid(Op.Attention a) {
        Shape qs = a.q().shape();
        int dv = a.v().shape().size(2) / a.heads();
        return new int[]{tiles(qs.size(1), TensorCoreAttention.QUERIES), qs.size(0) * a.heads(),
                tiles(dv, TensorCoreAttention.COLUMNS)};
    }

    /** The {@link TensorCoreAttention} descriptor of an attention, field by field. */
    private static int[] attentionDescriptor(Op.Attention a) {
        int[] g = attentionGrid(a);
        int d = a.q().shape().size(2) / a.heads();
        int[] f = new int[TensorCoreAttention.FIELDS];
        f[TensorCoreAttention.NQ] = a.q().shape().size(1);
        f[TensorCoreAttention.NK] = a.k().shape().size(1);
        f[TensorCoreAttention.HEADS] = a.heads();
        f[TensorCoreAttention.D] = d;
        f[TensorCoreAttention.DV] = a.v().shape().size(2) / a.heads();
        f[TensorCoreAttention.D_PADDED] = TensorCoreWeights.roundUp(d, 16);
        f[TensorCoreAttention.Q_BLOCKS] = g[0];
        f[TensorCoreAttention.BATCH_HEADS] = g[1];
        return f;
    }

    private static TensorCoreWeights.LinearLayout linearLayout(Op.Linear l) {
        return new TensorCoreWeights.LinearLayout(l.weight().shape().size(0), l.x().shape().size(-1),
                l.activation() == Activation.GEGLU);
    }

    private static TensorCoreWeights.ConvLayout convLayout(Op.Conv2d c) {
        return new TensorCoreWeights.ConvLayout(c.out().shape().size(1), toInt(c.weight().shape().countFrom(1), "conv weight row"));
    }

    private static long halfElements(Op op) {
        return op instanceof Op.Linear l ? linearLayout(l).elements() : convLayout((Op.Conv2d) op).elements();
    }

    /** Row blocks, column blocks and batch: the product's output tiles. */
    private static int[] tileGrid(Op op) {
        if (op instanceof Op.Linear l) {
            var layout = linearLayout(l);
            int m = toInt(l.x().shape().elementCount() / layout.k(), "linear rows");
            int colBlocks = layout.geglu() ? tiles(layout.n() / 2, TensorCoreKernels.GEGLU_COLUMNS)
                    : tiles(layout.n(), TensorCoreKernels.BLOCK_N);
            return new int[]{tiles(m, TensorCoreKernels.BLOCK_M), colBlocks, 1};
        }
        Shape os = op.out().shape();
        return new int[]{tiles(os.size(1), TensorCoreKernels.BLOCK_M), tiles(os.countFrom(2), TensorCoreKernels.BLOCK_N), os.size(0)};
    }

    /** The {@link TensorCoreKernels} descriptor of a product, field by field. */
    private int[] gemmDescriptor(Op op) {
        int[] t = tileGrid(op);
        SplitK split = splits.get(op);
        int[] d;
        if (op instanceof Op.Linear l) {
            var layout = linearLayout(l);
            d = productDescriptor(t, split, toInt(l.x().shape().elementCount() / layout.k(), "linear rows"), layout.n(), layout.k(),
                    layout.kPadded(), layout.stride());
            d[TensorCoreKernels.ACT] = JavaKernelPath.activationCode(l.activation());
            d[TensorCoreKernels.HALF_PADDED] = layout.halfPadded();
        } else {
            Op.Conv2d c = (Op.Conv2d) op;
            var layout = convLayout(c);
            Shape xs = c.x().shape();
            d = productDescriptor(t, split, layout.cout(), toInt(c.out().shape().countFrom(2), "conv output pixels"), layout.kTotal(),
                    layout.kPadded(), layout.kPadded());
            d[TensorCoreKernels.CIN] = xs.size(1);
            d[TensorCoreKernels.IN_H] = xs.size(2);
            d[TensorCoreKernels.IN_W] = xs.size(3);
            d[TensorCoreKernels.OUT_W] = c.out().shape().size(3);
            d[TensorCoreKernels.GEOM] = JavaKernelPath.convGeometry(c, graphName);
            d[TensorCoreKernels.PADS] = JavaKernelPath.convPadding(c, graphName);
            Shape ws = c.weight().shape();
            int[] table = TensorCoreKernels.im2colTable(layout.kTotal(), layout.kPadded(), toInt(ws.size(2), "filter height"),
                    toInt(ws.size(3), "filter width"), xs.size(2), xs.size(3));
            d = Arrays.copyOf(d, d.length + table.length);
            System.arraycopy(table, 0, d, TensorCoreKernels.FIELDS, table.length);
        }
        return d;
    }
}
