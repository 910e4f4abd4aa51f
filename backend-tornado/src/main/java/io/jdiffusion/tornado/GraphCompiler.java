package io.jdiffusion.tornado;

import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.Broadcast;
import io.jdiffusion.backend.graph.BufferPlan;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.tornado.kernels.AttentionKernels;
import io.jdiffusion.tornado.kernels.GemmKernels;
import io.jdiffusion.tornado.kernels.KernelMath;
import io.jdiffusion.tornado.kernels.NormKernels;
import io.jdiffusion.tornado.kernels.PointwiseKernels;
import io.jdiffusion.tornado.kernels.Storage;
import io.jdiffusion.tornado.kernels.TensorCoreAttention;
import io.jdiffusion.tornado.kernels.TensorCoreKernels;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.WorkerGrid2D;
import uk.ac.manchester.tornado.api.WorkerGrid3D;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.types.HalfFloat;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;
import uk.ac.manchester.tornado.api.types.arrays.TornadoNativeArray;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Turns a recorded {@link Graph} into one TornadoVM task graph: one task (kernel launch) per operator,
 * all operands addressed as offsets into a few device buffers, so the whole call runs on the device with
 * no host synchronisation between operators.
 *
 * <p>Buffers: every used constant packed into one weight array (uploaded on the first run only), the
 * {@link BufferPlan} arena for intermediates, one array each for float inputs, integer inputs and
 * outputs (the only per-run transfers), integer constants, and the broadcast descriptors of binary ops.
 *
 * <p>In F16 on a device with tensor cores (PTX and CUDA backends), {@code Linear} and {@code Conv2d} with a
 * constant weight run on {@link TensorCoreKernels}: their weights go, in F16 and the kernels' padded layouts,
 * into a separate half-precision weight array, and their work-groups share a scratch buffer for the epilogue.
 * Attention with heads up to 160 runs on {@link TensorCoreAttention}, using the same scratch.
 *
 * <p>Activations: an executable that computes in F16 (tensor cores or the NVIDIA libraries) keeps the arena in
 * F16, {@link #halfArena}, at the buffer plan's element offsets; every kernel then reads and writes those
 * operands as F16 and computes in F32 ({@link Storage}). Graph inputs, outputs and constants stay F32. In F32
 * the arena is a FloatArray and {@link #halfArena} a placeholder.
 */
final class GraphCompiler {
    private static final AtomicInteger GRAPH_IDS = new AtomicInteger();
    /** Arena and buffer offsets are aligned to 64 bytes, 16 floats. */
    private static final int ALIGN = 16;
    private static final int POINTWISE_THREADS = 256;
    /**
     * Tasks per TornadoVM task graph ({@link TornadoSettings#tasksPerGraph()}): TornadoVM records a graph's tasks
     * in a fixed 8 KiB buffer, so a network call becomes a chain of task graphs in one execution plan, handing the
     * device buffers on with persistOnDevice/consumeFromDevice.
     */
    private final int tasksPerGraph = TornadoSettings.tasksPerGraph();
    /** Tasks every executable launches besides its operators': the poisoning of the outputs. */
    static final int POISON_TASKS = 1;

    private final TornadoBackend backend;
    private final Graph graph;
    private final String name;
    private final BufferPlan plan;
    /** The task graph being filled; a graph call spans several (see {@link #tasksPerGraph}). */
    private TaskGraph tasks;
    private final List<TaskGraph> taskGraphs = new ArrayList<>();
    private final GridScheduler grids = new GridScheduler();
    private final KernelContext ctx = new KernelContext();
    /** Index into {@link #shapes} of each operator's run-time sizes (broadcast descriptors, unspecialised sizes). */
    private final Map<Op, Integer> opMeta = new IdentityHashMap<>();
    private final List<TornadoExecutable.IdCheck> idChecks = new ArrayList<>();
    private int taskCount;
    /** Index of a 0 in {@link #shapes}, read by the touch task of each chained task graph. */
    private int sentinel;
    /** Index of a NaN in {@link #weights}, which the first task of a run copies over every output element. */
    private int nanIndex;

    private FloatArray weights;
    private IntArray intConstants;
    private IntArray shapes;
    private FloatArray floatInputs;
    private IntArray intInputs;
    private FloatArray outputs;
    private FloatArray arena;
    /** The F16 activation arena; a few elements of placeholder where activations are F32. */
    private HalfFloatArray halfArena;
    /** Whether activations live in {@link #halfArena}. */
    private final boolean halfActivations;
    /**
     * F32 accumulator of {@link AttentionKernels#attentionLargeHead} (its own array: in F16 the output could not
     * hold the running sums of a 512-wide head over thousands of keys, and TornadoVM's scheduler hangs on a task
     * that writes one array through two arguments); null where no attention needs it.
     */
    private FloatArray largeHeadSums;
    private int[] constantOffsets;
    private int[] inputOffsets;
    private int[] outputOffsets;
    /** Whether Linear and Conv2d with constant weights run on tensor cores in F16. */
    private final boolean tensorCores;
    /** The operators that do, and where their F16 weights start in {@link #halfWeights}. */
    private final Map<Op, Integer> halfOffsets = new IdentityHashMap<>();
    /** Attention operators that run on {@link TensorCoreAttention}. */
    private final Set<Op> tensorCoreAttention = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
    /** F16 weights of the tensor-core operators; null when there are none. */
    private HalfFloatArray halfWeights;
    /** Epilogue tiles of the tensor-core kernels, {@link TensorCoreKernels#TILE_FLOATS} per work-group. */
    private FloatArray scratch;
    /** Operators on cuBLAS/cuDNN (TornadoVM's CUDA backend); null where the library path does not apply. */
    private final LibraryProducts libraries;
    /** The F32 3x3 convolutions that run as Winograd F(4x4, 3x3). */
    private final WinogradConvolution winograd;

    GraphCompiler(TornadoBackend backend, Graph graph, Precision requested) {
        this.backend = backend;
        this.graph = graph;
        this.name = "jd" + GRAPH_IDS.incrementAndGet();
        this.plan = BufferPlan.plan(graph, ALIGN * Float.BYTES);
        this.tensorCores = requested == Precision.F16 && TornadoDevices.supportsTensorCores(backend.device());
        this.libraries = TornadoDevices.usesLibraries(backend.device()) ? new LibraryProducts(requested == Precision.F16) : null;
        // Tensor cores and the libraries take every convolution with a constant weight, so Winograd only in the
        // F32 Java kernels.
        this.winograd = new WinogradConvolution(graph, plan,
                !tensorCores && libraries == null && TornadoSettings.winograd(),
                GraphCompiler::align);
        this.halfActivations = requested == Precision.F16 && (tensorCores || libraries != null);
    }

    TornadoExecutable compile() {
        layOutBuffers();
        List<List<Op>> segments = segments();
        // Every task graph of the chain declares every buffer: the first uploads them and each hands all of
        // them to the next. (TornadoVM treats an object persisted anywhere in a plan as already allocated, so
        // a buffer first uploaded by a later graph would never be allocated.)
        List<Object> buffers = new ArrayList<>(List.of(weights, intConstants, shapes, arena, outputs, floatInputs, intInputs));
        // Buffers besides these that only some executables have: the tensor cores' F16 weights and scratch, the
        // library path's staging, Winograd's scratch, the F16 arena (a placeholder in F32), the wide-head sums.
        List<Object> extra = new ArrayList<>();
        if (halfWeights != null) {
            extra.add(halfWeights);
            extra.add(scratch);
        }
        if (libraries != null) {
            extra.addAll(libraries.sharedBuffers());
        }
        if (winograd.scratch() != null) {
            extra.add(winograd.scratch());
        }
        extra.add(halfArena);
        if (largeHeadSums != null) {
            extra.add(largeHeadSums);
        }
        ChainTouch touch = segments.size() > 1 ? new ChainTouch(extra, h -> h != halfArena || halfActivations) : null;
        if (touch != null) {
            extra.addAll(touch.placeholders());
        }
        buffers.addAll(extra);
        Object[] all = buffers.toArray();
        for (int i = 0; i < segments.size(); i++) {
            tasks = new TaskGraph(name + "_" + i);
            if (i == 0) {
                tasks.transferToDevice(DataTransferMode.FIRST_EXECUTION, weights, intConstants, shapes, arena, outputs);
                tasks.transferToDevice(DataTransferMode.FIRST_EXECUTION, extra.toArray());
                tasks.transferToDevice(DataTransferMode.EVERY_EXECUTION, floatInputs, intInputs);
            } else {
                tasks.consumeFromDevice(taskGraphs.getLast().getTaskGraphName(), all);
            }
            if (touch != null) {
                touchEveryBuffer(touch);
            }
            if (i == 0) {
                poisonOutputs();
            }
            for (Op op : segments.get(i)) {
                emit(op);
            }
            if (i < segments.size() - 1) {
                tasks.persistOnDevice(all);
            } else {
                tasks.transferToHost(DataTransferMode.EVERY_EXECUTION, outputs);
            }
            taskGraphs.add(tasks);
        }
        // Every device buffer: the shared ones above, plus each library product's own weight array.
        long bytes = libraries == null ? 0 : libraries.weightBytes();
        for (Object buffer : all) {
            bytes += ((TornadoNativeArray) buffer).getNumBytesOfSegment();
        }
        // Tensor cores and the library path both imply F16 activations when F16 was asked for.
        Precision used = halfActivations ? Precision.F16 : Precision.F32;
        long arenaBytes = halfActivations ? halfArena.getNumBytesOfSegment() : arena.getNumBytesOfSegment();
        return new TornadoExecutable(backend, graph, used, taskGraphs.stream().map(TaskGraph::snapshot).toList(), grids, floatInputs,
                intInputs, outputs, inputOffsets, outputOffsets, idChecks, arenaBytes, bytes, taskCount);
    }

    /** The task that makes this graph of a chain use every device buffer (see {@link ChainTouch}). */
    private void touchEveryBuffer(ChainTouch touch) {
        String id = nextTask();
        tasks.task(id, PointwiseKernels::touchAll, ctx, weights, arena, outputs, floatInputs, intConstants, intInputs, shapes, sentinel,
                touch.liveHalves(), touch.half(0), touch.half(1), touch.half(2), touch.half(3), touch.floats(0), touch.floats(1),
                touch.floats(2), touch.floats(3), touch.floats(4), touch.floats(5));
        grid(id, new WorkerGrid1D(32), 32, 1, 1);
        for (Object buffer : touch.overflow()) {
            String sid = nextTask();
            if (buffer instanceof HalfFloatArray h) {
                int live = h != halfArena || halfActivations ? 1 : 0;
                tasks.task(sid, PointwiseKernels::touchHalves, ctx, h, live, shapes, sentinel);
            } else {
                tasks.task(sid, PointwiseKernels::touchFloats, ctx, (FloatArray) buffer, shapes, sentinel);
            }
            grid(sid, new WorkerGrid1D(32), 32, 1, 1);
        }
    }

    // ---- buffers --------------------------------------------------------------------------------------

    private void layOutBuffers() {
        int n = graph.values().size();
        constantOffsets = new int[n];
        Set<Integer> f32Roots = chooseProductPaths();
        long floatCursor = 0;
        long intCursor = 0;
        for (Value v : graph.constants()) {
            if (plan.binding(v) == null || plan.storageRoot(v) != v.id() || !f32Roots.contains(v.id())) {
                continue;
            }
            if (v.dtype().isFloatingPoint()) {
                constantOffsets[v.id()] = toInt(floatCursor, "weights");
                floatCursor = align(floatCursor + v.shape().elementCount());
            } else {
                constantOffsets[v.id()] = toInt(intCursor, "integer constants");
                intCursor = align(intCursor + v.shape().elementCount());
            }
        }
        floatCursor = winograd.placeWeights(floatCursor);
        nanIndex = toInt(floatCursor, "weights");
        floatCursor = align(floatCursor + 1);
        weights = new FloatArray(toInt(floatCursor, "weights"));
        weights.set(nanIndex, Float.NaN);
        intConstants = new IntArray(Math.max(1, toInt(intCursor, "integer constants")));
        for (Value v : graph.constants()) {
            if (plan.binding(v) == null || plan.storageRoot(v) != v.id() || !f32Roots.contains(v.id())) {
                continue;
            }
            if (v.dtype().isFloatingPoint()) {
                HostCopies.toFloats(v.constant(), weights, constantOffsets[v.id()]);
            } else {
                HostCopies.toInts(v.constant(), intConstants, constantOffsets[v.id()], v.toString());
            }
        }
        winograd.writeWeights(weights);

        inputOffsets = new int[graph.inputs().size()];
        long fIn = 0;
        long iIn = 0;
        for (int i = 0; i < inputOffsets.length; i++) {
            Value v = graph.inputs().get(i);
            if (isInteger(v.dtype())) {
                inputOffsets[i] = toInt(iIn, "integer inputs");
                iIn = align(iIn + v.shape().elementCount());
            } else {
                inputOffsets[i] = toInt(fIn, "inputs");
                fIn = align(fIn + v.shape().elementCount());
            }
        }
        floatInputs = new FloatArray(Math.max(1, toInt(fIn, "inputs")));
        intInputs = new IntArray(Math.max(1, toInt(iIn, "integer inputs")));

        outputOffsets = new int[graph.outputs().size()];
        long out = 0;
        for (int i = 0; i < outputOffsets.length; i++) {
            outputOffsets[i] = toInt(out, "outputs");
            out = align(out + graph.outputs().get(i).shape().elementCount());
        }
        outputs = new FloatArray(Math.max(1, toInt(out, "outputs")));
        int arenaElements = Math.max(1, toInt(plan.arenaBytes() / Float.BYTES, "arena"));
        arena = new FloatArray(halfActivations ? ALIGN : arenaElements);
        halfArena = new HalfFloatArray(halfActivations ? arenaElements : ALIGN);
        // NaN in device memory before the first run: a read of an arena element no kernel wrote yet surfaces as
        // a non-finite output instead of a plausible stale value. (The outputs are poisoned by a task at the
        // start of every run instead: TornadoVM does not upload an array that kernels only write.)
        outputs.init(Float.NaN);
        arena.init(Float.NaN);
        halfArena.init(new HalfFloat(Float.NaN));
        long sums = 0;
        for (Op op : graph.ops()) {
            if (op instanceof Op.Attention a && !tensorCoreAttention.contains(a) && (libraries == null || !libraries.handles(a))
                    && largeHead(a)) {
                sums = Math.max(sums, a.out().shape().elementCount());
            }
        }
        if (sums > 0) {
            largeHeadSums = new FloatArray(toInt(sums, "attention accumulator"));
            largeHeadSums.init(Float.NaN);
        }

        List<Integer> meta = new ArrayList<>();
        for (Op op : graph.ops()) {
            if (op instanceof Op.Binary b && !(b.a().shape().equals(b.out().shape()) && b.b().shape().equals(b.out().shape()))) {
                opMeta.put(op, meta.size());
                Shape o = b.out().shape();
                long[] sa = Broadcast.strides(b.a().shape(), o);
                long[] sb = Broadcast.strides(b.b().shape(), o);
                meta.add(o.rank());
                for (long d : o.dims()) {
                    meta.add(toInt(d, "broadcast dimension"));
                }
                for (long s : sa) {
                    meta.add(toInt(s, "broadcast stride"));
                }
                for (long s : sb) {
                    meta.add(toInt(s, "broadcast stride"));
                }
            } else if (halfOffsets.containsKey(op)) {
                opMeta.put(op, meta.size());
                addAll(meta, tensorCoreDescriptor(op));
            } else if (tensorCoreAttention.contains(op)) {
                opMeta.put(op, meta.size());
                addAll(meta, attentionDescriptor((Op.Attention) op));
            } else if (op instanceof Op.Conv2d c && winograd.uses(c)) {
                opMeta.put(op, meta.size());
                addAll(meta, winograd.descriptor(c));
            } else if (op instanceof Op.Conv2d c) {
                opMeta.put(op, meta.size());
                meta.add(c.x().shape().size(1));
            } else if (op instanceof Op.Attention a) {
                opMeta.put(op, meta.size());
                meta.add(a.k().shape().size(1));
            }
        }
        sentinel = meta.size();
        meta.add(0);
        shapes = new IntArray(meta.size());
        for (int i = 0; i < meta.size(); i++) {
            shapes.set(i, meta.get(i));
        }
    }

    /**
     * Picks the operators that leave the F32 kernels: to cuBLAS/cuDNN ({@link LibraryProducts}, which keeps
     * their weights) or to tensor cores (whose weights it packs into {@link #halfWeights}, sizing the scratch).
     * Returns the storage roots of the constants the F32 weight array must still hold (every constant but
     * those read only as such a product's weight).
     */
    private Set<Integer> chooseProductPaths() {
        Set<Integer> f32Roots = new HashSet<>();
        long halfCursor = 0;
        long scratchFloats = 0;
        for (Op op : graph.ops()) {
            Value movedWeight = null;
            Value weight = productWeight(op);
            boolean constantWeight = weight != null && plan.binding(weight) == BufferPlan.Binding.CONSTANT;
            if (libraries != null && constantWeight
                    && libraries.takeProduct(op, weight.shape(), graph.values().get(plan.storageRoot(weight)).constant())) {
                movedWeight = weight;
            } else if (tensorCores && constantWeight) {
                movedWeight = weight;
                halfOffsets.put(op, toInt(halfCursor, "F16 weights"));
                halfCursor = align(halfCursor + halfElements(op));
                scratchFloats = Math.max(scratchFloats, (long) workGroups(op) * TensorCoreKernels.TILE_FLOATS);
            }
            if (op instanceof Op.Attention a) {
                boolean onLibrary = libraries != null && libraries.takeAttention(a);
                if (!onLibrary && tensorCores && TornadoSettings.tensorCoreAttention() && fitsTensorCoreAttention(a)) {
                    tensorCoreAttention.add(op);
                    int[] g = attentionGrid(a);
                    scratchFloats = Math.max(scratchFloats, (long) g[0] * g[1] * g[2] * TensorCoreAttention.TILE_FLOATS);
                }
            }
            if (op instanceof Op.Reshape) {
                continue;
            }
            for (Value in : op.inputs()) {
                if (in != movedWeight && in != winograd.replacedWeight(op) && in != null && plan.binding(in) == BufferPlan.Binding.CONSTANT) {
                    f32Roots.add(plan.storageRoot(in));
                }
            }
        }
        if (libraries != null) {
            libraries.allocate();
        }
        if (!halfOffsets.isEmpty() || !tensorCoreAttention.isEmpty()) {
            halfWeights = new HalfFloatArray(Math.max(1, toInt(halfCursor, "F16 weights")));
            halfWeights.getSegment().fill((byte) 0);
            scratch = new FloatArray(toInt(scratchFloats, "tensor-core scratch"));
            scratch.init(Float.NaN);
            for (var e : halfOffsets.entrySet()) {
                packHalf(e.getKey(), e.getValue());
            }
        }
        return f32Roots;
    }

    private static boolean fitsTensorCoreAttention(Op.Attention a) {
        int d = a.q().shape().size(2) / a.heads();
        int dv = a.v().shape().size(2) / a.heads();
        return d <= TensorCoreAttention.MAX_HEAD && dv <= TensorCoreAttention.MAX_HEAD;
    }

    /** Query blocks, batch * heads and value-column chunks of a tensor-core attention's grid. */
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

    /** The weight of a Linear or Conv2d (the operators the tensor-core GEMM runs); null for any other. */
    private static Value productWeight(Op op) {
        return switch (op) {
            case Op.Linear l -> l.weight();
            case Op.Conv2d c -> c.weight();
            default -> null;
        };
    }

    private TensorCoreWeights.LinearLayout linearLayout(Op.Linear l) {
        return new TensorCoreWeights.LinearLayout(l.weight().shape().size(0), l.x().shape().size(-1),
                l.activation() == Activation.GEGLU);
    }

    private TensorCoreWeights.ConvLayout convLayout(Op.Conv2d c) {
        return new TensorCoreWeights.ConvLayout(c.out().shape().size(1), toInt(c.weight().shape().countFrom(1), "conv weight row"));
    }

    private long halfElements(Op op) {
        return op instanceof Op.Linear l ? linearLayout(l).elements() : convLayout((Op.Conv2d) op).elements();
    }

    private void packHalf(Op op, int offset) {
        var constant = graph.values().get(plan.storageRoot(productWeight(op))).constant();
        if (op instanceof Op.Linear l) {
            linearLayout(l).pack(constant, halfWeights, offset);
        } else {
            convLayout((Op.Conv2d) op).pack(constant, halfWeights, offset);
        }
    }

    /** Row blocks, column blocks and batch of a tensor-core operator's grid. */
    private int[] tensorCoreGrid(Op op) {
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

    private int workGroups(Op op) {
        int[] g = tensorCoreGrid(op);
        return toInt((long) g[0] * g[1] * g[2], "tensor-core work-groups");
    }

    /** The {@link TensorCoreKernels} descriptor of a tensor-core operator, field by field. */
    private int[] tensorCoreDescriptor(Op op) {
        int[] d = new int[TensorCoreKernels.FIELDS];
        int[] g = tensorCoreGrid(op);
        d[TensorCoreKernels.ROW_BLOCKS] = g[0];
        d[TensorCoreKernels.COL_BLOCKS] = g[1];
        if (op instanceof Op.Linear l) {
            var layout = linearLayout(l);
            d[TensorCoreKernels.ROWS] = toInt(l.x().shape().elementCount() / layout.k(), "linear rows");
            d[TensorCoreKernels.COLS] = layout.n();
            d[TensorCoreKernels.K_TOTAL] = layout.k();
            d[TensorCoreKernels.K_PADDED] = layout.kPadded();
            d[TensorCoreKernels.W_STRIDE] = layout.stride();
            d[TensorCoreKernels.ACT] = activationCode(l.activation());
            d[TensorCoreKernels.HALF_PADDED] = layout.halfPadded();
        } else {
            Op.Conv2d c = (Op.Conv2d) op;
            var layout = convLayout(c);
            Shape xs = c.x().shape();
            Shape ws = c.weight().shape();
            d[TensorCoreKernels.ROWS] = layout.cout();
            d[TensorCoreKernels.COLS] = toInt(c.out().shape().countFrom(2), "conv output pixels");
            d[TensorCoreKernels.K_TOTAL] = layout.kTotal();
            d[TensorCoreKernels.K_PADDED] = layout.kPadded();
            d[TensorCoreKernels.W_STRIDE] = layout.kPadded();
            d[TensorCoreKernels.CIN] = xs.size(1);
            d[TensorCoreKernels.IN_H] = xs.size(2);
            d[TensorCoreKernels.IN_W] = xs.size(3);
            d[TensorCoreKernels.OUT_W] = c.out().shape().size(3);
            d[TensorCoreKernels.GEOM] = convGeometry(c, ws);
            d[TensorCoreKernels.PADS] = convPadding(c);
        }
        return d;
    }

    private static void addAll(List<Integer> meta, int[] fields) {
        for (int v : fields) {
            meta.add(v);
        }
    }

    Slot slot(Value v) {
        BufferPlan.Binding b = plan.binding(v);
        if (b == null) {
            throw new IllegalStateException(v + " has no storage in the buffer plan of " + graph.name());
        }
        return switch (b) {
            case INPUT -> {
                int i = plan.bindingIndex(v);
                Value in = graph.inputs().get(i);
                yield isInteger(in.dtype()) ? new Slot(intInputs, inputOffsets[i], v.toString(), false)
                        : new Slot(floatInputs, inputOffsets[i], v.toString(), false);
            }
            case OUTPUT -> new Slot(outputs, outputOffsets[plan.bindingIndex(v)], v.toString(), false);
            case CONSTANT -> {
                Value c = graph.values().get(plan.storageRoot(v));
                yield isInteger(c.dtype()) ? new Slot(intConstants, constantOffsets[c.id()], v.toString(), false)
                        : new Slot(weights, constantOffsets[c.id()], v.toString(), false);
            }
            case ARENA -> new Slot(arena, toInt(plan.arenaOffset(v) / Float.BYTES, "arena offset"), v.toString(), halfActivations);
        };
    }

    /**
     * NaN over every output element at the start of each run, so an element no kernel writes cannot pass for a
     * result (a stale value of the previous run would).
     */
    private void poisonOutputs() {
        int n = outputs.getSize();
        String id = nextTask();
        tasks.task(id, PointwiseKernels::fill, ctx, weights, nanIndex, outputs, n);
        pointwiseGrid(id, n);
    }

    /** Consecutive runs of operators, each launching at most {@link #tasksPerGraph} tasks. */
    private List<List<Op>> segments() {
        List<List<Op>> segments = new ArrayList<>();
        List<Op> current = new ArrayList<>();
        int count = POISON_TASKS;
        for (Op op : graph.ops()) {
            int launches = switch (op) {
                case Op handled when libraries != null && libraries.handles(handled) -> LibraryProducts.launches();
                case Op.Reshape r -> 0;
                case Op.Concat c -> c.parts().size();
                case Op.Conv2d c when winograd.uses(c) -> WinogradConvolution.LAUNCHES;
                default -> 1;
            };
            if (count + launches > tasksPerGraph && !current.isEmpty()) {
                segments.add(current);
                current = new ArrayList<>();
                count = 0;
            }
            current.add(op);
            count += launches;
        }
        segments.add(current);
        return segments;
    }

    // ---- operators ------------------------------------------------------------------------------------

    private void emit(Op op) {
        if (libraries != null && libraries.handles(op)) {
            libraries.emit(op, this);
            return;
        }
        switch (op) {
            case Op.Conv2d c -> conv2d(c);
            case Op.Linear l -> linear(l);
            case Op.Attention a -> attention(a);
            case Op.GroupNorm g -> groupNorm(g);
            case Op.LayerNorm l -> layerNorm(l);
            case Op.Unary u -> unary(u);
            case Op.Binary b -> binary(b);
            case Op.Upsample2x u -> upsample(u);
            case Op.Concat c -> concat(c);
            case Op.Softmax s -> softmax(s);
            case Op.Embedding e -> embedding(e);
            case Op.TimestepEmbedding t -> timestep(t);
            case Op.Transpose t -> transpose(t);
            case Op.Reshape r -> {
                // Storage is shared through the buffer plan: nothing to launch.
            }
        }
    }

    int convGeometry(Op.Conv2d c, Shape ws) {
        int kh = ws.size(2);
        int kw = ws.size(3);
        if (kh > 255 || kw > 255 || c.stride() > 255) {
            throw unsupported(c, "kernel or stride above 255");
        }
        return kh | (kw << 8) | (c.stride() << 16);
    }

    /** Height | width << 16 of an NCHW shape, as {@link GemmKernels#conv2d} takes them. */
    private int packHW(Op.Conv2d c, Shape s) {
        if (s.size(2) > 65535 || s.size(3) > 65535) {
            throw unsupported(c, "an image side above 65535");
        }
        return s.size(2) | s.size(3) << 16;
    }

    int convPadding(Op.Conv2d c) {
        var p = c.padding();
        if (p.top() > 65535 || p.left() > 65535) {
            throw unsupported(c, "padding above 65535");
        }
        return p.top() | (p.left() << 16);
    }

    /** A tensor-core Linear or Conv2d: {@link TensorCoreKernels#gemm}, one 256-thread work-group per 128x128 tile. */
    private void tensorCoreGemm(Op op, Value xv, Value bias, Value residual) {
        Slot x = slot(xv);
        Slot b = bias == null ? null : slot(bias);
        Slot r = residual == null ? null : slot(residual);
        Slot o = slot(op.out());
        String id = nextTask();
        int halves = x.bit(Storage.X) | Slot.bit(b, Storage.Z) | Slot.bit(r, Storage.RESIDUAL) | o.bit(Storage.OUT);
        tasks.task(id, TensorCoreKernels::gemm, ctx, halfArena, halves, x.floats(), x.offset(), halfWeights, halfOffsets.get(op),
                b == null ? o.floats() : b.floats(), b == null ? -1 : b.offset(),
                r == null ? o.floats() : r.floats(), r == null ? -1 : r.offset(),
                o.floats(), o.offset(), scratch, shapes, opMeta.get(op),
                op instanceof Op.Linear ? TensorCoreKernels.MODE_LINEAR : TensorCoreKernels.MODE_CONV);
        int[] g = tensorCoreGrid(op);
        grid(id, new WorkerGrid3D(g[0] * TensorCoreKernels.THREADS, g[1], g[2]), TensorCoreKernels.THREADS, 1, 1);
    }

    private void conv2d(Op.Conv2d c) {
        if (halfOffsets.containsKey(c)) {
            tensorCoreGemm(c, c.x(), c.bias(), c.residual());
            return;
        }
        if (winograd.uses(c)) {
            winograd.emit(c, tasks, ctx, this::slot, this::nextTask, this::grid, weights, shapes, opMeta.get(c));
            return;
        }
        Shape xs = c.x().shape();
        Shape ws = c.weight().shape();
        Shape os = c.out().shape();
        int geom = convGeometry(c, ws);
        int pads = convPadding(c);
        Slot x = slot(c.x());
        Slot w = slot(c.weight());
        Slot b = c.bias() == null ? null : slot(c.bias());
        Slot r = c.residual() == null ? null : slot(c.residual());
        Slot o = slot(c.out());
        int cout = os.size(1);
        int pixels = os.size(2) * os.size(3);
        String id = nextTask();
        tasks.task(id, GemmKernels::conv2d, ctx, halfArena, productHalves(x, w, b, r, o), x.floats(), x.offset(),
                w.floats(), w.offset(), b == null ? w.floats() : b.floats(), b == null ? -1 : b.offset(),
                r == null ? w.floats() : r.floats(), r == null ? -1 : r.offset(),
                o.floats(), o.offset(), shapes, opMeta.get(c), packHW(c, xs), cout, packHW(c, os), geom, pads);
        grid(id, new WorkerGrid3D(tiles(pixels, GemmKernels.TILE_N) * 16, tiles(cout, GemmKernels.TILE_M) * 16, xs.size(0)),
                16, 16, 1);
    }

    private void linear(Op.Linear l) {
        if (halfOffsets.containsKey(l)) {
            tensorCoreGemm(l, l.x(), l.bias(), l.residual());
            return;
        }
        int k = l.x().shape().size(-1);
        int n = l.weight().shape().size(0);
        int m = toInt(l.x().shape().elementCount() / k, "linear rows");
        Slot x = slot(l.x());
        Slot w = slot(l.weight());
        Slot b = l.bias() == null ? null : slot(l.bias());
        Slot r = l.residual() == null ? null : slot(l.residual());
        Slot o = slot(l.out());
        int act = activationCode(l.activation());
        String id = nextTask();
        tasks.task(id, GemmKernels::linear, ctx, halfArena, productHalves(x, w, b, r, o), x.floats(), x.offset(),
                w.floats(), w.offset(), b == null ? w.floats() : b.floats(), b == null ? -1 : b.offset(),
                r == null ? w.floats() : r.floats(), r == null ? -1 : r.offset(),
                o.floats(), o.offset(), m, n, k, act);
        int colGroups = act == KernelMath.ACT_GEGLU ? tiles(n / 2, GemmKernels.TILE_N / 2) : tiles(n, GemmKernels.TILE_N);
        grid(id, new WorkerGrid2D(colGroups * 16, tiles(m, GemmKernels.TILE_M) * 16), 16, 16, 1);
    }

    private void attention(Op.Attention a) {
        if (tensorCoreAttention.contains(a)) {
            Slot q = slot(a.q());
            Slot k = slot(a.k());
            Slot v = slot(a.v());
            Slot o = slot(a.out());
            String id = nextTask();
            tasks.task(id, TensorCoreAttention::attention, ctx, halfArena, attentionHalves(q, k, v, o),
                    q.floats(), q.offset(), k.floats(), k.offset(), v.floats(), v.offset(), o.floats(), o.offset(),
                    scratch, shapes, opMeta.get(a), a.scale(), a.causal() ? 1 : 0);
            int[] g = attentionGrid(a);
            grid(id, new WorkerGrid3D(g[0] * TensorCoreAttention.THREADS, g[1], g[2]), TensorCoreAttention.THREADS, 1, 1);
            return;
        }
        Shape qs = a.q().shape();
        int batch = qs.size(0);
        int nq = qs.size(1);
        int nk = a.k().shape().size(1);
        int d = qs.size(2) / a.heads();
        int dv = a.v().shape().size(2) / a.heads();
        boolean large = largeHead(a);
        if (d > AttentionKernels.MAX_HEAD_LARGE || dv > AttentionKernels.MAX_HEAD_LARGE) {
            throw unsupported(a, "head size " + Math.max(d, dv) + " above " + AttentionKernels.MAX_HEAD_LARGE);
        }
        Slot q = slot(a.q());
        Slot k = slot(a.k());
        Slot v = slot(a.v());
        Slot o = slot(a.out());
        String id = nextTask();
        int halves = attentionHalves(q, k, v, o);
        if (large) {
            tasks.task(id, AttentionKernels::attentionLargeHead, ctx, halfArena, halves,
                    q.floats(), q.offset(), k.floats(), k.offset(), v.floats(), v.offset(), o.floats(), o.offset(),
                    largeHeadSums, 0, nq, shapes, opMeta.get(a), a.heads(), d | dv << 16, a.scale(), a.causal() ? 1 : 0);
        } else {
            tasks.task(id, AttentionKernels::attention, ctx, halfArena, halves,
                    q.floats(), q.offset(), k.floats(), k.offset(), v.floats(), v.offset(), o.floats(), o.offset(),
                    nq, shapes, opMeta.get(a), a.heads(), d, dv, a.scale(), a.causal() ? 1 : 0);
        }
        grid(id, new WorkerGrid2D(tiles(nq, AttentionKernels.QUERIES) * AttentionKernels.THREADS, batch * a.heads()),
                AttentionKernels.THREADS, 1, 1);
    }

    private void groupNorm(Op.GroupNorm g) {
        Shape s = g.x().shape();
        int channels = s.size(1);
        int spatial = toInt(s.countFrom(2), "group norm spatial size");
        Slot x = slot(g.x());
        Slot gamma = slot(g.gamma());
        Slot beta = slot(g.beta());
        Slot o = slot(g.out());
        String id = nextTask();
        tasks.task(id, NormKernels::groupNorm, ctx, halfArena, normHalves(x, gamma, beta, o), x.floats(), x.offset(),
                gamma.floats(), gamma.offset(), beta.floats(), beta.offset(), o.floats(), o.offset(), channels, spatial, g.groups(),
                g.eps(), g.silu() ? 1 : 0);
        grid(id, new WorkerGrid1D(s.size(0) * g.groups() * NormKernels.GROUP_THREADS), NormKernels.GROUP_THREADS, 1, 1);
    }

    private void layerNorm(Op.LayerNorm l) {
        int d = l.x().shape().size(-1);
        int rows = toInt(l.x().shape().elementCount() / d, "layer norm rows");
        Slot x = slot(l.x());
        Slot gamma = slot(l.gamma());
        Slot beta = slot(l.beta());
        Slot o = slot(l.out());
        String id = nextTask();
        tasks.task(id, NormKernels::layerNorm, ctx, halfArena, normHalves(x, gamma, beta, o), x.floats(), x.offset(),
                gamma.floats(), gamma.offset(), beta.floats(), beta.offset(), o.floats(), o.offset(), d, l.eps());
        grid(id, new WorkerGrid1D(rows * NormKernels.THREADS), NormKernels.THREADS, 1, 1);
    }

    private void softmax(Op.Softmax s) {
        int d = s.x().shape().size(-1);
        int rows = toInt(s.x().shape().elementCount() / d, "softmax rows");
        Slot x = slot(s.x());
        Slot o = slot(s.out());
        String id = nextTask();
        tasks.task(id, NormKernels::softmax, ctx, halfArena, x.bit(Storage.X) | o.bit(Storage.OUT), x.floats(), x.offset(),
                o.floats(), o.offset(), d);
        grid(id, new WorkerGrid1D(rows * NormKernels.THREADS), NormKernels.THREADS, 1, 1);
    }

    private void unary(Op.Unary u) {
        Slot x = slot(u.x());
        Slot o = slot(u.out());
        int n = toInt(u.out().shape().elementCount(), "elements");
        String id = nextTask();
        if (u.activation() == Activation.GEGLU) {
            tasks.task(id, PointwiseKernels::geglu, ctx, halfArena, x.bit(Storage.X) | o.bit(Storage.OUT), x.floats(), x.offset(),
                    o.floats(), o.offset(), n, u.out().shape().size(-1));
        } else {
            tasks.task(id, PointwiseKernels::unary, ctx, halfArena, x.bit(Storage.X) | o.bit(Storage.OUT), x.floats(), x.offset(),
                    o.floats(), o.offset(), n, activationCode(u.activation()));
        }
        pointwiseGrid(id, n);
    }

    private void binary(Op.Binary b) {
        Slot a = slot(b.a());
        Slot c = slot(b.b());
        Slot o = slot(b.out());
        int n = toInt(b.out().shape().elementCount(), "elements");
        int op = switch (b.op()) {
            case ADD -> PointwiseKernels.OP_ADD;
            case SUB -> PointwiseKernels.OP_SUB;
            case MUL -> PointwiseKernels.OP_MUL;
        };
        String id = nextTask();
        tasks.task(id, PointwiseKernels::binary, ctx, halfArena, a.bit(Storage.X) | c.bit(Storage.Y) | o.bit(Storage.OUT), a.floats(),
                a.offset(), c.floats(), c.offset(), o.floats(), o.offset(), n, op,
                shapes, opMeta.getOrDefault(b, -1));
        pointwiseGrid(id, n);
    }

    private void upsample(Op.Upsample2x u) {
        Shape s = u.x().shape();
        Slot x = slot(u.x());
        Slot o = slot(u.out());
        int n = toInt(u.out().shape().elementCount(), "elements");
        String id = nextTask();
        tasks.task(id, PointwiseKernels::upsample2x, ctx, halfArena, x.bit(Storage.X) | o.bit(Storage.OUT), x.floats(), x.offset(),
                o.floats(), o.offset(), n, s.size(2), s.size(3));
        pointwiseGrid(id, n);
    }

    private void concat(Op.Concat c) {
        Shape os = c.out().shape();
        int axis = c.axis();
        long outer = 1;
        for (int i = 0; i < axis; i++) {
            outer *= os.dim(i);
        }
        int inner = toInt(os.countFrom(axis + 1), "concat inner size");
        int total = os.size(axis);
        Slot o = slot(c.out());
        int at = 0;
        for (Value part : c.parts()) {
            int dp = part.shape().size(axis);
            int n = toInt(outer * dp * inner, "elements");
            Slot p = slot(part);
            String id = nextTask();
            tasks.task(id, PointwiseKernels::concatPart, ctx, halfArena, p.bit(Storage.X) | o.bit(Storage.OUT), p.floats(),
                    p.offset(), o.floats(), o.offset(), n, dp, inner, total, at);
            pointwiseGrid(id, n);
            at += dp;
        }
    }

    private void embedding(Op.Embedding e) {
        Slot ids = slot(e.ids());
        Slot table = slot(e.table());
        Slot o = slot(e.out());
        int vocab = e.table().shape().size(0);
        int d = e.table().shape().size(1);
        int n = toInt(e.out().shape().elementCount(), "elements");
        if (plan.binding(e.ids()) == BufferPlan.Binding.CONSTANT) {
            TornadoExecutable.IdCheck.check(e.ids().constant(), vocab, e.ids().toString());
        } else {
            idChecks.add(new TornadoExecutable.IdCheck(plan.bindingIndex(e.ids()), vocab, e.ids().toString()));
        }
        String id = nextTask();
        tasks.task(id, PointwiseKernels::embedding, ctx, halfArena, table.bit(Storage.Y) | o.bit(Storage.OUT), ids.ints(),
                ids.offset(), table.floats(), table.offset(), o.floats(),
                o.offset(), n, d);
        pointwiseGrid(id, n);
    }

    private void timestep(Op.TimestepEmbedding t) {
        Slot x = slot(t.t());
        Slot o = slot(t.out());
        int n = toInt(t.out().shape().elementCount(), "elements");
        String id = nextTask();
        tasks.task(id, PointwiseKernels::timestepEmbedding, ctx, halfArena, x.bit(Storage.X) | o.bit(Storage.OUT), x.floats(),
                x.offset(), o.floats(), o.offset(), n, t.dim(),
                t.flipSinToCos() ? 1 : 0, t.downscaleFreqShift(), t.scale(), (float) Math.log(t.maxPeriod()));
        pointwiseGrid(id, n);
    }

    private void transpose(Op.Transpose t) {
        Shape s = t.x().shape();
        int m = s.size(1);
        int n = s.size(2);
        Slot x = slot(t.x());
        Slot o = slot(t.out());
        String id = nextTask();
        tasks.task(id, PointwiseKernels::transpose, ctx, halfArena, x.bit(Storage.X) | o.bit(Storage.OUT), x.floats(), x.offset(),
                o.floats(), o.offset(), m, n);
        grid(id, new WorkerGrid3D(tiles(n, 32) * 32, tiles(m, 32) * 8, s.size(0)), 32, 8, 1);
    }

    // ---- helpers (also used by LibraryProducts) -------------------------------------------------------

    /** The task graph being filled. */
    TaskGraph tasks() {
        return tasks;
    }

    KernelContext ctx() {
        return ctx;
    }

    String nextTask() {
        return "t" + taskCount++;
    }

    void pointwiseGrid(String id, int n) {
        grid(id, new WorkerGrid1D(tiles(n, POINTWISE_THREADS) * POINTWISE_THREADS), POINTWISE_THREADS, 1, 1);
    }

    /** The F16 activation arena (a placeholder where activations are F32), every kernel's {@code f16} argument. */
    HalfFloatArray halfArena() {
        return halfArena;
    }

    /** {@link Storage} mask of a matrix product's operands (bias and residual optional). */
    static int productHalves(Slot x, Slot w, Slot bias, Slot residual, Slot out) {
        return x.bit(Storage.X) | w.bit(Storage.Y) | Slot.bit(bias, Storage.Z) | Slot.bit(residual, Storage.RESIDUAL)
                | out.bit(Storage.OUT);
    }

    private static int attentionHalves(Slot q, Slot k, Slot v, Slot out) {
        return q.bit(Storage.X) | k.bit(Storage.Y) | v.bit(Storage.Z) | out.bit(Storage.OUT);
    }

    private static int normHalves(Slot x, Slot gamma, Slot beta, Slot out) {
        return x.bit(Storage.X) | gamma.bit(Storage.Y) | beta.bit(Storage.Z) | out.bit(Storage.OUT);
    }

    /** Whether an attention's heads are too wide for {@link AttentionKernels#attention}'s local memory. */
    private static boolean largeHead(Op.Attention a) {
        int d = a.q().shape().size(2) / a.heads();
        int dv = a.v().shape().size(2) / a.heads();
        return d > AttentionKernels.MAX_HEAD || dv > AttentionKernels.MAX_HEAD;
    }

    private void grid(String id, WorkerGrid g, int lx, int ly, int lz) {
        g.setLocalWork(lx, ly, lz);
        grids.addWorkerGrid(tasks.getTaskGraphName() + "." + id, g);
    }

    private static int tiles(long n, int tile) {
        return toInt((n + tile - 1) / tile, "grid size");
    }

    static int activationCode(Activation a) {
        return switch (a) {
            case NONE -> KernelMath.ACT_NONE;
            case SILU -> KernelMath.ACT_SILU;
            case GELU -> KernelMath.ACT_GELU;
            case GELU_TANH -> KernelMath.ACT_GELU_TANH;
            case QUICK_GELU -> KernelMath.ACT_QUICK_GELU;
            case GEGLU -> KernelMath.ACT_GEGLU;
        };
    }

    private static boolean isInteger(DType t) {
        return t == DType.I32 || t == DType.I64;
    }

    private static long align(long n) {
        return (n + ALIGN - 1) / ALIGN * ALIGN;
    }

    private static int toInt(long n, String what) {
        if (n < 0 || n > Integer.MAX_VALUE - ALIGN) {
            throw new IllegalArgumentException("the tornado backend indexes with 32-bit ints; " + what + " of " + n
                    + " elements is too large");
        }
        return (int) n;
    }

    private IllegalArgumentException unsupported(Op op, String what) {
        return new IllegalArgumentException("tornado backend: " + op.getClass().getSimpleName() + " producing " + op.out()
                + " in graph '" + graph.name() + "': " + what + " is not supported");
    }
}
