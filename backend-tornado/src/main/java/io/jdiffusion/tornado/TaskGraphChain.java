package io.jdiffusion.tornado;

import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.tornado.kernels.PointwiseKernels;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.ImmutableTaskGraph;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;
import uk.ac.manchester.tornado.api.types.arrays.TornadoNativeArray;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The TornadoVM task graphs of one executable, run one after another in one execution plan. TornadoVM records a
 * task graph's tasks in a fixed 8 KiB buffer ({@link TaskCost}), so a network call is a chain of task graphs, each
 * handing every device buffer to the next ({@code persistOnDevice} / {@code consumeFromDevice}).
 *
 * <p>The chain is cut between operators ({@link #cut}): a graph takes operators while their tasks fit the buffer
 * and the task cap ({@link TornadoSettings#tasksPerGraph()}), and where one no longer fits, the cut moves back to
 * the last model boundary (a change of the scope the model recorded, such as {@code down_blocks.1}) if the graph
 * stays at least three quarters full, so that a graph holds whole blocks where it can.
 *
 * <p>Every graph declares every buffer: the first uploads them and each hands all of them on. (TornadoVM treats an
 * object persisted anywhere in a plan as already allocated, so a buffer first uploaded by a later graph would never
 * be allocated.) The exception is the steady inputs' buffer, which a graph of its own, before the chain, uploads
 * and hands to the first ({@link #uploadSteadyInputs}). In a chain of two graphs or more, one touch task makes
 * each graph use every buffer ({@link ChainTouch}). Device-only buffers ({@link DeviceArrays#deviceOnly}) are
 * declared {@code UNDER_DEMAND}: allocated, never copied. The first tasks of a run fill the outputs and the
 * {@linkplain DeviceArrays#poisoned poisoned} device-only buffers with NaN.
 */
final class TaskGraphChain {
    /** TornadoVM's task-graph buffer: {@code highLevelCode = new byte[8192]} in its {@code TornadoTaskGraph}. */
    static final int TASK_GRAPH_BYTES = 8192;
    private static final int POINTWISE_THREADS = 256;

    private final String name;
    /** Creates the graphs on the device, their tasks prebuilt from one compilation per kernel where it can. */
    private final KernelTwins twins;
    private final DeviceArrays arrays;
    private final GridScheduler grids = new GridScheduler();
    private final KernelContext ctx = new KernelContext();
    private final List<TaskGraph> taskGraphs = new ArrayList<>();
    /** Whether the graph being filled is the chain's first, which declares (and on close frees) its tasks' arrays. */
    private boolean fillingFirstGraph = true;
    /** The task graph being filled. */
    private TaskGraph tasks;
    private int taskCount;
    /** Every buffer the graphs declare, once built. */
    private Object[] buffers = new Object[0];

    TaskGraphChain(String name, KernelTwins twins, DeviceArrays arrays) {
        this.name = name;
        this.twins = twins;
        this.arrays = arrays;
    }

    /**
     * Consecutive runs of {@code ops}, one per task graph: each within {@link #TASK_GRAPH_BYTES} (less what the
     * graph's own tasks take: {@code headerBytes}, and the {@code poison} tasks' in the first) and at most
     * {@code maxTasks} operator launches (the poisoning counts in the first); an operator too large for any graph
     * gets one alone.
     */
    static List<List<Op>> cut(List<Op> ops, Function<Op, TaskCost> cost, int headerBytes, TaskCost poison, int maxTasks) {
        List<List<Op>> segments = new ArrayList<>();
        List<Op> current = new ArrayList<>();
        int budget = TASK_GRAPH_BYTES - headerBytes;
        TaskCost used = poison;
        // where the current graph's last model boundary is, and what the graph holds before it
        int boundary = -1;
        TaskCost beforeBoundary = TaskCost.NONE;
        for (Op op : ops) {
            TaskCost c = cost.apply(op);
            while (!current.isEmpty() && (used.bytes() + c.bytes() > budget || used.launches() + c.launches() > maxTasks)) {
                boolean fullEnough = beforeBoundary.bytes() * 4L >= budget * 3L || beforeBoundary.launches() * 4L >= maxTasks * 3L;
                if (boundary > 0 && fullEnough) {
                    segments.add(new ArrayList<>(current.subList(0, boundary)));
                    current = new ArrayList<>(current.subList(boundary, current.size()));
                } else {
                    segments.add(current);
                    current = new ArrayList<>();
                }
                used = TaskCost.NONE;
                for (Op kept : current) {
                    used = used.plus(cost.apply(kept));
                }
                boundary = -1;
                beforeBoundary = TaskCost.NONE;
            }
            if (!current.isEmpty() && !scope(op).equals(scope(current.getLast()))) {
                boundary = current.size();
                beforeBoundary = used;
            }
            current.add(op);
            used = used.plus(c);
        }
        segments.add(current);
        return segments;
    }

    /** The model's scope of an operator (its result's name: the block the model was recording). */
    private static String scope(Op op) {
        return op.out().name();
    }

    /** The first graph's poisoning: a fill of the outputs and of each of {@code poisonedArrays} arrays. */
    static TaskCost poisonCost(int poisonedArrays) {
        return TaskCost.of(PointwiseKernels.class, "fill").times(1 + poisonedArrays);
    }

    /** Task-graph bytes of the touch tasks of a chained graph. */
    static int touchBytes(ChainTouch touch) {
        TaskCost c = TaskCost.of(PointwiseKernels.class, "touchAll");
        for (Object buffer : touch.overflow()) {
            c = c.plus(TaskCost.of(PointwiseKernels.class, buffer instanceof HalfFloatArray ? "touchHalves" : "touchFloats"));
        }
        return c.bytes();
    }

    /**
     * Builds the task graphs: segment i's operators, each added by {@code emit}, after the graph's transfers, the
     * touch task where the chain has several graphs and, in the first graph, the poisoning of the outputs and of
     * the poisoned device-only buffers.
     *
     * @param extra the buffers only some executables have (besides {@link BufferLayout#buffers()}), in the order
     *              {@link ChainTouch} was built from
     * @param touch the touch of every buffer, used where there are several segments
     */
    void build(BufferLayout layout, List<Object> extra, ChainTouch touch, List<List<Op>> segments, Function<Op, TaskCost> cost,
               Consumer<Op> emit) {
        boolean chained = segments.size() > 1;
        List<Object> extraBuffers = new ArrayList<>(extra);
        if (chained) {
            extraBuffers.addAll(touch.placeholders());
        }
        List<Object> buffers = new ArrayList<>(layout.buffers());
        buffers.addAll(extraBuffers);
        Object[] all = buffers.toArray();
        FloatArray steady = layout.steadyInputs();
        String steadyGraph = steady == null ? null : uploadSteadyInputs(layout);
        for (int i = 0; i < segments.size(); i++) {
            tasks = twins.newGraph(name + "_" + i);
            fillingFirstGraph = i == 0;
            if (i == 0) {
                List<Object> declared = new ArrayList<>(List.of(layout.weights(), layout.intConstants(), layout.shapes(), layout.arena(),
                        layout.outputs()));
                declared.addAll(extraBuffers.stream().filter(b -> b != steady).toList());
                tasks.transferToDevice(DataTransferMode.FIRST_EXECUTION, declared.stream().filter(b -> !arrays.deviceOnly(b)).toArray());
                Object[] allocatedOnly = declared.stream().filter(arrays::deviceOnly).toArray();
                if (allocatedOnly.length > 0) {
                    tasks.transferToDevice(DataTransferMode.UNDER_DEMAND, allocatedOnly);
                }
                tasks.transferToDevice(DataTransferMode.EVERY_EXECUTION, layout.floatInputs(), layout.intInputs());
                if (steady != null) {
                    tasks.consumeFromDevice(steadyGraph, steady);
                }
            } else {
                tasks.consumeFromDevice(taskGraphs.getLast().getTaskGraphName(), all);
            }
            if (chained) {
                touchEveryBuffer(layout, touch);
            }
            if (i == 0) {
                poison(layout);
            }
            for (Op op : segments.get(i)) {
                int before = taskCount;
                emit.accept(op);
                int planned = cost.apply(op).launches();
                if (taskCount - before != planned) {
                    // the cut counted this operator's launches; a path that adds others would overflow a graph
                    throw new IllegalStateException(op.getClass().getSimpleName() + " producing " + op.out() + " launched "
                            + (taskCount - before) + " tasks where its path's cost says " + planned);
                }
            }
            if (i < segments.size() - 1) {
                tasks.persistOnDevice(all);
            } else {
                tasks.transferToHost(DataTransferMode.EVERY_EXECUTION, layout.outputs());
            }
            taskGraphs.add(tasks);
        }
        this.buffers = all;
    }

    /**
     * The task graph, first of the plan, that copies the steady inputs in ({@link BufferLayout#steadyInputs()}) and
     * hands them to the chain's first graph, which takes them from the device. An executable runs it only when a
     * steady input changed since it last ran ({@link SteadyInputs}): in the runs between, the chain's first graph
     * takes the buffer from the plan's last graph like every other buffer it persists, so the device keeps the
     * inputs without a copy. (TornadoVM has no transfer that a run can skip on demand: a {@code FIRST_EXECUTION}
     * copy is never made again, an {@code EVERY_EXECUTION} one always.)
     */
    private String uploadSteadyInputs(BufferLayout layout) {
        FloatArray steady = layout.steadyInputs();
        tasks = twins.newGraph(name + "_steady");
        tasks.transferToDevice(DataTransferMode.EVERY_EXECUTION, steady);
        String id = "upload";
        tasks.task(id, PointwiseKernels::touchUploaded, ctx, steady, layout.steadySentinel());
        grid(id, new WorkerGrid1D(32), 32, 1, 1);
        tasks.persistOnDevice(steady);
        taskGraphs.add(tasks);
        return tasks.getTaskGraphName();
    }

    /** Every buffer the chain declares (after {@link #build}). */
    List<Object> declaredBuffers() {
        return List.of(buffers);
    }

    /** The task that makes this graph of a chain use every device buffer (see {@link ChainTouch}). */
    private void touchEveryBuffer(BufferLayout layout, ChainTouch touch) {
        String id = nextTask();
        tasks.task(id, PointwiseKernels::touchAll, ctx, layout.weights(), layout.arena(), layout.outputs(), layout.floatInputs(),
                layout.intConstants(), layout.intInputs(), layout.shapes(), layout.sentinel(),
                touch.liveHalves(), touch.half(0), touch.half(1), touch.half(2), touch.half(3), touch.floats(0), touch.floats(1),
                touch.floats(2), touch.floats(3), touch.floats(4), touch.floats(5));
        grid(id, new WorkerGrid1D(32), 32, 1, 1);
        for (Object buffer : touch.overflow()) {
            String sid = nextTask();
            if (buffer instanceof HalfFloatArray h) {
                int live = h != layout.halfArena() || layout.halfActivations() ? 1 : 0;
                tasks.task(sid, PointwiseKernels::touchHalves, ctx, h, live, layout.shapes(), layout.sentinel());
            } else {
                tasks.task(sid, PointwiseKernels::touchFloats, ctx, (FloatArray) buffer, layout.shapes(), layout.sentinel());
            }
            grid(sid, new WorkerGrid1D(32), 32, 1, 1);
        }
    }

    /**
     * NaN over every output element and every poisoned device-only buffer at the start of each run (read from the
     * weights' NaN element), so that an element no kernel of the run writes cannot pass for a result (a stale value
     * of the previous run would).
     */
    private void poison(BufferLayout layout) {
        List<TornadoNativeArray> targets = new ArrayList<>(List.of(layout.outputs()));
        targets.addAll(arrays.poisoned());
        for (TornadoNativeArray target : targets) {
            int n = target.getSize();
            String id = nextTask();
            if (target instanceof HalfFloatArray h) {
                tasks.task(id, PointwiseKernels::fillHalves, ctx, layout.weights(), layout.nanIndex(), h, n);
            } else {
                tasks.task(id, PointwiseKernels::fill, ctx, layout.weights(), layout.nanIndex(), (FloatArray) target, n);
            }
            pointwiseGrid(id, tiles(n, PointwiseKernels.FILL_PER_THREAD));
        }
    }

    /**
     * The integer arguments of the task added next, as an array of its own that the graph being filled uploads on its
     * first run. Outside a chain's first graph, TornadoVM does not free it when the executable closes (the chain is
     * freed through its first graph, see {@code TornadoExecutable}): it is handed to {@link DeviceArrays#keepPastClose}.
     */
    IntArray args(int... values) {
        IntArray a = IntArray.fromArray(values);
        tasks.transferToDevice(DataTransferMode.FIRST_EXECUTION, a);
        if (!fillingFirstGraph) {
            arrays.keepPastClose(a);
        }
        return a;
    }

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

    /** Kernel launches in all graphs. */
    int taskCount() {
        return taskCount;
    }

    GridScheduler grids() {
        return grids;
    }

    List<ImmutableTaskGraph> snapshots() {
        return taskGraphs.stream().map(TaskGraph::snapshot).toList();
    }

    void grid(String id, WorkerGrid g, int lx, int ly, int lz) {
        g.setLocalWork(lx, ly, lz);
        grids.addWorkerGrid(tasks.getTaskGraphName() + "." + id, g);
    }

    void pointwiseGrid(String id, int n) {
        grid(id, new WorkerGrid1D(tiles(n, POINTWISE_THREADS) * POINTWISE_THREADS), POINTWISE_THREADS, 1, 1);
    }

    static int tiles(long n, int tile) {
        return BufferLayout.toInt((n + tile - 1) / tile, "grid size");
    }
}
