package io.jdiffusion.tornado;

import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.graph.BufferPlan;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.Tensor;
import uk.ac.manchester.tornado.api.types.arrays.TornadoNativeArray;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * Turns a recorded {@link Graph} into one TornadoVM execution plan: one task (kernel launch) per operator, all
 * operands addressed as offsets into a few device buffers, so the whole call runs on the device with no host
 * synchronisation between operators. Three objects do the work:
 * <ul>
 *   <li>the operator paths ({@link OperatorPath}): which operators leave the Java kernels ({@link JavaKernelPath})
 *       for NVIDIA's libraries ({@link LibraryProducts}, TornadoVM's CUDA backend), the tensor cores
 *       ({@link TensorCorePath}, F16 on PTX and CUDA), two products around a softmax for wide heads
 *       ({@link ScoreAttention}) or Winograd ({@link WinogradConvolution}, F32 Java kernels),
 *       chosen here in that order of preference, and how each launches;</li>
 *   <li>the {@link BufferLayout}: where every value lives;</li>
 *   <li>the {@link TaskGraphChain}: the task graphs, cut by TornadoVM's task-graph bytes and at model boundaries.</li>
 * </ul>
 *
 * <p>An executable that computes in F16 (tensor cores or the NVIDIA libraries) keeps its activations in F16 at
 * the buffer plan's element offsets; every kernel then reads and writes those operands as F16 and computes in F32.
 * Graph inputs, outputs and constants stay F32.
 */
final class GraphCompiler {
    private static final AtomicInteger GRAPH_IDS = new AtomicInteger();

    private final TornadoBackend backend;
    private final Graph graph;
    private final String name;
    private final BufferPlan plan;
    /** Operators on cuBLAS/cuDNN (TornadoVM's CUDA backend); null where the library path does not apply. */
    private final LibraryProducts libraries;
    /** Linear, Conv2d and attention on tensor cores in F16; null where they do not apply. */
    private final TensorCorePath tensorCores;
    /** Attention with one wide head as two products around a softmax on the Java kernels (tensor cores where they apply). */
    private final ScoreAttention scoreAttention;
    /** The F32 3x3 convolutions that run as Winograd F(4x4, 3x3). */
    private final WinogradConvolution winograd;
    /** Whether activations are kept in F16. */
    private final boolean halfActivations;
    /** Bytes to which arena values are aligned on the device (0: {@link BufferLayout#ALIGN} elements only). */
    private final int operandAlignment;
    /** The host side of every weight array (handed back once the first execution uploaded it) and of the device-only ones. */
    private final DeviceArrays deviceArrays;

    GraphCompiler(TornadoBackend backend, Graph graph, Precision requested) {
        this.backend = backend;
        this.graph = graph;
        this.name = "jd" + GRAPH_IDS.incrementAndGet();
        boolean usesLibraries = TornadoDevices.usesLibraries(backend.device());
        // operands the NVIDIA libraries read aligned as cudaMalloc aligns them (BufferLayout)
        this.operandAlignment = usesLibraries ? TornadoSettings.operandAlignment() : 0;
        this.plan = BufferPlan.plan(graph, BufferLayout.planAlignment(operandAlignment));
        boolean pins = TornadoDevices.pinsHostArrays(backend.device());
        // where TornadoVM locks host arrays, the plan uploads the large ones through its staging ring (DeviceArrays#stagedUploads)
        this.deviceArrays = new DeviceArrays(!pins, pins);
        boolean tensorCoreDevice = requested == Precision.F16 && TornadoDevices.supportsTensorCores(backend.device());
        this.tensorCores = tensorCoreDevice
                ? new TensorCorePath(graph.name(), backend.device().getPhysicalDevice().getDeviceMaxComputeUnits(),
                TornadoDevices.copiesAsync(backend.device())) : null;
        this.scoreAttention = new ScoreAttention(tensorCores);
        this.libraries = usesLibraries ? new LibraryProducts(requested == Precision.F16, graph, plan,
                this::constantOf, deviceArrays) : null;
        // Tensor cores and the libraries take every convolution with a constant weight, so Winograd only in the
        // F32 Java kernels.
        this.winograd = new WinogradConvolution(graph, plan, !tensorCoreDevice && libraries == null && TornadoSettings.winograd(),
                BufferLayout::align, deviceArrays);
        this.halfActivations = requested == Precision.F16 && (tensorCoreDevice || libraries != null);
    }

    TornadoExecutable compile() {
        Set<Integer> f32Roots = choosePaths();
        List<OperatorPath> taking = new ArrayList<>();
        if (libraries != null) {
            taking.add(libraries);
        }
        if (tensorCores != null) {
            taking.add(tensorCores);
        }
        taking.add(scoreAttention);
        taking.add(winograd);
        List<Op> javaOps = graph.ops().stream().filter(op -> taking.stream().noneMatch(p -> p.handles(op))).toList();
        JavaKernelPath javaKernels = new JavaKernelPath(graph.name(), plan, javaOps, deviceArrays);
        List<OperatorPath> paths = new ArrayList<>(taking);
        paths.add(javaKernels);
        Function<Op, OperatorPath> pathOf = op -> paths.stream().filter(p -> p.handles(op)).findFirst().orElseThrow();

        BufferLayout layout = new BufferLayout(graph, plan, halfActivations, operandAlignment, f32Roots, winograd, op -> pathOf.apply(op).descriptor(op),
                deviceArrays);
        // Buffers besides the layout's that only some executables have: the tensor cores' F16 weights and scratch,
        // the library path's staging, Winograd's scratch, the F16 arena (a placeholder in F32), the wide-head sums,
        // the split GroupNorms' partials,
        // the steady inputs (uploaded by a graph of their own, SteadyInputs).
        List<Object> extra = new ArrayList<>();
        if (tensorCores != null) {
            extra.addAll(tensorCores.buffers());
        }
        if (libraries != null) {
            extra.addAll(libraries.sharedBuffers());
        }
        extra.addAll(scoreAttention.buffers());
        if (winograd.scratch() != null) {
            extra.add(winograd.scratch());
        }
        extra.add(layout.halfArena());
        if (javaKernels.largeHeadSums() != null) {
            extra.add(javaKernels.largeHeadSums());
        }
        if (javaKernels.groupPartials() != null) {
            extra.add(javaKernels.groupPartials());
        }
        if (layout.steadyInputs() != null) {
            extra.add(layout.steadyInputs());
        }
        ChainTouch touch = new ChainTouch(extra, h -> h != layout.halfArena() || halfActivations);
        Function<Op, TaskCost> cost = op -> pathOf.apply(op).cost(op);
        List<List<Op>> segments = TaskGraphChain.cut(graph.ops(), cost, TaskGraphChain.touchBytes(touch),
                TaskGraphChain.poisonCost(deviceArrays.poisoned().size()), TornadoSettings.tasksPerGraph());

        KernelTwins twins = new KernelTwins(backend.device(), TornadoDevices.compilesKernelsOnce(backend.device()));
        TaskGraphChain chain = new TaskGraphChain(name, twins, deviceArrays);
        Emission emission = new Emission(layout, chain);
        chain.build(layout, extra, touch, segments, cost, op -> pathOf.apply(op).emit(op, emission));

        // Every device buffer: the chain's, plus each library product's own weight array.
        long bytes = libraries == null ? 0 : libraries.weightBytes();
        for (Object buffer : chain.declaredBuffers()) {
            bytes += ((TornadoNativeArray) buffer).getNumBytesOfSegment();
        }
        // Every constant is now in one of this executable's arrays: a mapped checkpoint's pages go back to the file.
        graph.constants().forEach(Value::releaseMappedPages);
        // Tensor cores and the library path both imply F16 activations when F16 was asked for.
        Precision used = halfActivations ? Precision.F16 : Precision.F32;
        return new TornadoExecutable(backend, graph, used, chain.snapshots(), chain.grids(), layout.floatInputs(), layout.intInputs(),
                layout.outputs(), layout.inputOffsets(), layout.outputOffsets(), javaKernels.idChecks(),
                layout.steadyInputs() == null ? null : new SteadyInputs(layout, graph.inputs().size()), layout.arenaBytes(), bytes,
                chain.taskCount(), deviceArrays, twins);
    }

    /**
     * Offers every operator to the paths that take operators from the Java kernels: a product with a constant
     * weight to cuBLAS, else to the tensor cores; an attention to cuDNN (or cuBLASLt), else, with wide heads or many keys,
     * to two products around a softmax ({@link ScoreAttention}), else to the tensor-core kernel. Returns the
     * storage roots of the constants the F32 weight array must still hold (every constant but those read only as
     * such a product's weight, or replaced by Winograd's transformed weight).
     */
    private Set<Integer> choosePaths() {
        Set<Integer> f32Roots = new HashSet<>();
        for (Op op : graph.ops()) {
            Value movedWeight = null;
            Value weight = TensorCorePath.productWeight(op);
            boolean constantWeight = weight != null && plan.binding(weight) == BufferPlan.Binding.CONSTANT;
            if (libraries != null && constantWeight && libraries.takeProduct(op, weight.shape(), constantOf(weight))) {
                movedWeight = weight;
                // converted into the product's own array: a mapped checkpoint's pages go back now, not after the
                // whole network, so the host never holds the network's weights twice
                storageRootOf(weight).releaseMappedPages();
            } else if (tensorCores != null && constantWeight && tensorCores.takeProduct(op)) {
                movedWeight = weight;
            }
            if (op instanceof Op.Attention a) {
                boolean onLibrary = libraries != null && libraries.takeAttention(a);
                boolean onScores = !onLibrary && scoreAttention.take(a);
                if (!onLibrary && !onScores && tensorCores != null && TornadoSettings.tensorCoreAttention()) {
                    tensorCores.takeAttention(a);
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
        if (tensorCores != null) {
            tensorCores.allocate(this::storageRootOf, deviceArrays);
        }
        scoreAttention.allocate(deviceArrays);
        return f32Roots;
    }

    /** The stored tensor behind a constant value (its storage root's). */
    private Tensor constantOf(Value v) {
        return storageRootOf(v).constant();
    }

    /** The value that stores a constant (itself, or the value a reshape of it views). */
    private Value storageRootOf(Value v) {
        return graph.values().get(plan.storageRoot(v));
    }
}
