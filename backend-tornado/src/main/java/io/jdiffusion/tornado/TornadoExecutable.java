package io.jdiffusion.tornado;

import io.jdiffusion.backend.DeviceTensor;
import io.jdiffusion.backend.Executable;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.tornado.nvidia.BackgroundPlans;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.ImmutableTaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.TornadoExecutionResult;
import uk.ac.manchester.tornado.api.enums.ProfilerMode;
import uk.ac.manchester.tornado.api.exceptions.TornadoExecutionPlanException;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

import java.util.ArrayList;
import java.util.List;

/**
 * A graph compiled to one TornadoVM execution plan. A run copies the inputs into the plan's input
 * buffers, replays the plan (all kernels back to back on the device; a CUDA graph where the backend has
 * them) and copies the output buffer out. {@link #prepare()} does the one-time work of the first execution of the
 * plan ahead of the first run: the JIT of every kernel, the upload of the weights and the other buffers, CUDA-graph
 * capture; without it the first run does.
 *
 * <p>The graph's steady inputs (a UNet's text conditioning) are the exception to "copies the inputs": they live in a
 * device buffer of their own that the plan's first task graph uploads, and a run executes that graph only when one
 * of them changed since the device got it ({@link SteadyInputs}). A denoising loop that keeps one conditioning
 * tensor for all its UNet calls copies the latents and the timestep in, and the prediction out, per call.
 */
final class TornadoExecutable implements Executable {
    /** An integer input that indexes an embedding table of {@code vocab} rows. */
    record IdCheck(int input, int vocab, String what) {
        static void check(Tensor ids, int vocab, String what) {
            long n = ids.elementCount();
            for (long i = 0; i < n; i++) {
                long id = ids.getLong(i);
                if (id < 0 || id >= vocab) {
                    throw new IllegalArgumentException(what + ": id " + id + " at position " + i + " is outside the table's "
                            + vocab + " rows");
                }
            }
        }
    }

    private final TornadoBackend backend;
    private final Graph graph;
    private final Precision precision;
    private final TornadoExecutionPlan plan;
    private final FloatArray floatInputs;
    private final IntArray intInputs;
    private final FloatArray outputs;
    private final int[] inputOffsets;
    private final int[] outputOffsets;
    private final List<IdCheck> idChecks;
    /** The steady inputs kept on the device, uploaded by graph 0 of the plan; null where the graph has none. */
    private final SteadyInputs steady;
    private final long arenaBytes;
    private final long deviceBytes;
    private final int taskCount;
    private final int graphCount;
    private final boolean profile = TornadoSettings.profile();
    /** Whether the plan replays as CUDA graphs (then a run ends with one stream synchronisation). */
    private final boolean cudaGraphs;
    private final List<String> profileLogs = new ArrayList<>();
    /** The host sides of the device arrays: the weights', handed back once the first execution has uploaded them. */
    private final DeviceArrays deviceArrays;
    /** The kernels the plan's Java tasks run, compiled once each, and where their sources lie. */
    private final KernelTwins twins;
    /** Bytes TornadoVM copied to the device in the last execution of the plan (profiled executables only). */
    private long lastCopyInBytes;
    /** Executions of the plan: runs and the execution of {@link #prepare()}. */
    private long runCount;
    private boolean prepared;
    /** Whether the plan's kernels were compiled (by {@link #prepare()} or the first execution). */
    private boolean compiled;
    private boolean closed;

    TornadoExecutable(TornadoBackend backend, Graph graph, Precision precision, List<ImmutableTaskGraph> taskGraphs, GridScheduler grids,
                      FloatArray floatInputs, IntArray intInputs, FloatArray outputs, int[] inputOffsets, int[] outputOffsets,
                      List<IdCheck> idChecks, SteadyInputs steady, long arenaBytes, long deviceBytes, int taskCount,
                      DeviceArrays deviceArrays, KernelTwins twins) {
        this.backend = backend;
        this.twins = twins;
        this.graph = graph;
        this.precision = precision;
        this.floatInputs = floatInputs;
        this.intInputs = intInputs;
        this.outputs = outputs;
        this.inputOffsets = inputOffsets;
        this.outputOffsets = outputOffsets;
        this.idChecks = List.copyOf(idChecks);
        this.steady = steady;
        this.arenaBytes = arenaBytes;
        this.deviceBytes = deviceBytes;
        this.taskCount = taskCount;
        this.deviceArrays = deviceArrays;
        this.graphCount = taskGraphs.size();
        TornadoExecutionPlan p = new TornadoExecutionPlan(taskGraphs.toArray(new ImmutableTaskGraph[0])).withGridScheduler(grids).withDevice(backend.device());
        // A profiled run times each kernel, which a replayed CUDA graph does not report.
        this.cudaGraphs = TornadoDevices.usesCudaGraphs(backend.device()) && !profile;
        if (cudaGraphs) {
            p = p.withCUDAGraph();
        }
        if (profile) {
            p = p.withProfiler(ProfilerMode.SILENT);
        }
        if (deviceArrays.stagedUploads()) {
            // Large arrays (the tensor cores' weights) go up through TornadoVM's ring of pinned slots, which needs no
            // lock on them, so DeviceArrays can keep them in its mapped file and hand them back.
            p = p.withStagedTransfers();
        }
        this.plan = p;
        backend.meter().add(deviceBytes);
    }

    @Override
    public Graph graph() {
        return graph;
    }

    @Override
    public Precision precision() {
        return precision;
    }

    /** Task graphs of the plan, launched one after another; a run leaves out the steady inputs' upload graph when they did not change. */
    int graphCount() {
        return graphCount;
    }

    /** The kernels the plan's Java tasks run, compiled once each (for tests and benchmarks). */
    KernelTwins twins() {
        return twins;
    }

    /** Kernel launches per run. */
    int taskCount() {
        return taskCount;
    }

    /** Of {@link #taskCount()}, the poisoning at the start of a run: the outputs' fill and each poisoned device-only array's. */
    int poisonTasks() {
        return TaskGraphChain.poisonCost(deviceArrays.poisoned().size()).launches();
    }

    /**
     * Does what the first execution of the plan would do once, so that the first run costs what later runs cost:
     * compiles the kernels this JVM lacks, in parallel plans of their own ({@link KernelTwins#compileKernels}), then
     * every task graph's kernels ({@code withPreCompilation()}: TornadoVM's interpreter walks the plan's
     * bytecode, compiling each launch and skipping allocations, copies and launches; the cuDNN plans its library
     * tasks ask for are built meanwhile, see {@link BackgroundPlans}), then executes the plan once
     * on the input buffers as they stand (zeros before a first run). TornadoVM uploads {@code FIRST_EXECUTION} data
     * (the weights, the arena's NaN, the descriptors) only inside an execution, and its pre-compilation skips the
     * copies, so this execution is what moves the uploads, the device allocations and the CUDA-graph capture out
     * of the first run; its kernels compute a result nobody reads (each run poisons the outputs again first). It
     * costs one run's device time on top of the uploads.
     */
    @Override
    public void prepare() {
        checkOpen();
        if (!prepared) {
            Runnable compile = () -> {
                twins.compileKernels();
                plan.withPreCompilation();
            };
            if (TornadoSettings.cudnnPlansInBackground()) {
                // cuDNN's plans are built on threads of their own meanwhile, all finished before the first run's capture
                BackgroundPlans.overlapping(compile);
            } else {
                compile.run();
            }
            compiled = true;
            execute(true);
            prepared = true;
        }
    }

    /** Whether {@link #prepare()} ran. */
    boolean prepared() {
        return prepared;
    }

    @Override
    public void run(List<? extends DeviceTensor> inputs, List<? extends DeviceTensor> outputTensors) {
        checkOpen();
        check(inputs, graph.inputs(), "input");
        check(outputTensors, graph.outputs(), "output");
        for (IdCheck c : idChecks) {
            IdCheck.check(backend.own(inputs.get(c.input())).host(), c.vocab(), c.what());
        }
        List<TornadoDeviceTensor> given = inputs.stream().map(backend::own).toList();
        boolean steadyChanged = steady != null && steady.copyChanged(given);
        for (int i = 0; i < inputs.size(); i++) {
            if (steady != null && steady.holds(i)) {
                continue;
            }
            Tensor host = given.get(i).host();
            if (host.dtype().isFloatingPoint()) {
                HostCopies.toFloats(host, floatInputs, inputOffsets[i]);
            } else {
                HostCopies.toInts(host, intInputs, inputOffsets[i], graph.inputs().get(i).toString());
            }
        }
        try {
            execute(steadyChanged);
        } catch (RuntimeException e) {
            if (steady != null) {
                steady.forget();
            }
            throw e;
        }
        for (int i = 0; i < outputTensors.size(); i++) {
            TornadoDeviceTensor out = backend.own(outputTensors.get(i));
            HostCopies.fromFloats(outputs, outputOffsets[i], out.host());
            out.written();
        }
    }

    /**
     * One execution of the plan: every task graph in order, finished before it returns; the graph that uploads
     * the steady inputs (graph 0, where the graph has them) only if {@code uploadSteady}.
     */
    private void execute(boolean uploadSteady) {
        if (!compiled) {
            // an unprepared plan compiles in its first execution, where the twins read their kernels' sources
            compiled = true;
            twins.compileKernels();
        }
        executeGraphs(uploadSteady);
    }

    private void executeGraphs(boolean uploadSteady) {
        profileLogs.clear();
        lastCopyInBytes = 0;
        runCount++;
        if (graphCount == 1) {
            record(plan.execute());
        } else {
            // Chained task graphs run one by one: TornadoVM hands persisted buffers from the graph it ran last
            // to the next only when each is launched on its own.
            for (int g = steady != null && !uploadSteady ? 1 : 0; g < graphCount; g++) {
                record(plan.withGraph(g).execute());
            }
        }
        // Every task graph has run once, so every FIRST_EXECUTION copy is done: the device holds the weights.
        deviceArrays.release();
        if (cudaGraphs) {
            // Replayed as CUDA graphs, the copy of the outputs to the host is a step of the last graph, launched
            // asynchronously; with -Dtornado.vmflush=false nothing else waits for it (StreamOrderTest caught reads
            // of an unfinished run on the PTX backend).
            backend.device().flush(plan.getId());
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("executable for graph '" + graph.name() + "' used after close");
        }
    }

    private void record(TornadoExecutionResult result) {
        if (profile) {
            profileLogs.add(result.getProfilerResult().getProfileLog());
            lastCopyInBytes += result.getProfilerResult().getTotalBytesCopyIn();
        }
    }

    /**
     * Bytes TornadoVM copied from the host to the device in the last execution of the plan (a run, or the
     * execution of {@link #prepare()}), from its profiler: recorded only with {@value TornadoSettings#PROFILE}.
     */
    long lastCopyInBytes() {
        if (!profile) {
            throw new IllegalStateException("copies are counted only with -D" + TornadoSettings.PROFILE + "=true");
        }
        return lastCopyInBytes;
    }

    /** The host side of the weight arrays (whether released, how much is resident), for tests. */
    DeviceArrays deviceArrays() {
        return deviceArrays;
    }

    /** Executions of the plan so far (runs, and the one of {@link #prepare()}); TornadoVM's profile logs accumulate over all of them. */
    long runCount() {
        return runCount;
    }

    /**
     * TornadoVM's JSON profiles of the last run, one per task graph (empty unless {@value TornadoSettings#PROFILE});
     * each holds the entries of every run so far.
     */
    List<String> lastProfiles() {
        return List.copyOf(profileLogs);
    }

    private void check(List<? extends DeviceTensor> tensors, List<Value> values, String what) {
        if (tensors.size() != values.size()) {
            throw new IllegalArgumentException("graph '" + graph.name() + "' takes " + values.size() + " " + what + "s, got "
                    + tensors.size());
        }
        for (int i = 0; i < tensors.size(); i++) {
            DeviceTensor t = tensors.get(i);
            Value v = values.get(i);
            backend.own(t);
            if (!t.shape().equals(v.shape()) || t.dtype() != v.dtype()) {
                throw new IllegalArgumentException("graph '" + graph.name() + "' " + what + " " + i + " must be " + v.shape() + " "
                        + v.dtype() + ", got " + t.shape() + " " + t.dtype());
            }
        }
    }

    @Override
    public long arenaBytes() {
        return arenaBytes;
    }

    /**
     * Hands every device buffer of the plan back to TornadoVM. A plan's freeDeviceMemory reaches only the graphs
     * selected last, one graph after a chained run's {@code withGraph}, so it used to leave every buffer allocated
     * (on TornadoVM's PTX backend, which page-locks the host side of each array until its buffer is freed, with the
     * host memory still registered with the driver after the garbage collector had freed it). Each graph frees the
     * buffers it declares, and TornadoVM refuses to free one twice, while the graphs of a chain share theirs (a
     * persisted buffer is handed on by reference). So a chain is freed through its first graph, which declares every
     * buffer, the steady inputs among them; without a chain each graph declares buffers of its own (the steady
     * inputs' upload graph its input, the executable's graph the rest).
     */
    private void freeEveryGraph() {
        int firstOfChain = steady != null ? 1 : 0;
        boolean chained = graphCount - firstOfChain > 1;
        if (chained) {
            plan.withGraph(firstOfChain).freeDeviceMemory();
        } else {
            plan.withAllGraphs().freeDeviceMemory();
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            freeEveryGraph();
            plan.close(); // frees the graphs selected last again, finding nothing left: kept for the plan's own release
        } catch (TornadoExecutionPlanException e) {
            throw new IllegalStateException("releasing the device memory of graph '" + graph.name() + "' failed", e);
        } finally {
            TornadoDevices.keepOtherPlansRunning(backend.device());
            backend.meter().release(deviceBytes);
            deviceArrays.close();
            twins.close();
        }
    }
}
