package io.jdiffusion.cpu;

import io.jdiffusion.backend.MemoryMeter;
import io.jdiffusion.backend.DeviceTensor;
import io.jdiffusion.backend.Executable;
import io.jdiffusion.backend.OperatorProfile;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.graph.BufferPlan;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Value;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * A graph compiled for the CPU: one arena planned by {@link BufferPlan} and allocated here, constants
 * packed or copied through the backend's {@link WeightCache} (shared with every other executable of the
 * same weights; the caller may close its constant tensors, e.g. unmap the weights file, once compilation
 * returns), and one fused kernel per operator, run in order.
 */
final class CpuExecutable implements Executable {
    private final Graph graph;
    private final BufferPlan plan;
    private final Arena arenaMemory = Arena.ofShared();
    private final long arenaBytes;
    private final MemoryMeter meter;
    private final Workspace workspace;
    private final CompileContext context;
    /** Buffers that do not change between runs (arena slices, constants); inputs and outputs are added per run. */
    private final MemorySegment[] fixed;
    private final List<Kernel> kernels = new ArrayList<>();
    private final List<Value> boundPerRun = new ArrayList<>();
    private final Consumer<CpuExecutable> onClose;
    private final Supplier<OperatorProfile> profile;
    private boolean closed;

    CpuExecutable(Graph graph, WorkerPool pool, MemoryMeter meter, WeightCache weights, KernelOptions options,
                  Supplier<OperatorProfile> profile, Consumer<CpuExecutable> onClose) {
        this.graph = graph;
        this.profile = profile;
        this.onClose = onClose;
        this.meter = meter;
        this.plan = BufferPlan.plan(graph, 64, KernelCompiler::writesInPlace);
        this.arenaBytes = plan.arenaBytes();
        MemorySegment arena = HugePages.allocate(arenaMemory, arenaBytes);
        meter.add(arenaBytes);
        this.fixed = new MemorySegment[graph.values().size()];
        this.workspace = new Workspace(meter);
        this.context = new CompileContext(pool, workspace, weights, fixed, options,
                new WinogradSelection(graph, options));
        try {
            for (Value v : graph.values()) {
                BufferPlan.Binding b = plan.binding(v);
                if (b == null) {
                    continue;
                }
                switch (b) {
                    case ARENA -> fixed[v.id()] = arena.asSlice(plan.arenaOffset(v), v.byteSize());
                    case CONSTANT -> {
                        // copied on demand by the kernels that read it (CompileContext.requireF32)
                    }
                    case INPUT, OUTPUT -> boundPerRun.add(v);
                }
            }
            for (Value v : graph.values()) {
                Value root = graph.values().get(plan.storageRoot(v));
                if (plan.binding(v) == BufferPlan.Binding.CONSTANT && root != v) {
                    context.requireF32(root); // a reshaped constant is read as F32
                    fixed[v.id()] = fixed[root.id()];
                }
            }
            for (Op op : graph.ops()) {
                kernels.add(KernelCompiler.compile(op, context));
                releaseMappedConstants(op);
            }
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    /**
     * Once an operator is compiled, its constants have been packed or copied into this executable, so the
     * pages of a memory-mapped weight file are handed back to the file cache ({@link Value#releaseMappedPages}).
     */
    private static void releaseMappedConstants(Op op) {
        for (Value v : op.inputs()) {
            if (v != null) {
                v.releaseMappedPages();
            }
        }
    }

    @Override
    public Graph graph() {
        return graph;
    }

    @Override
    public Precision precision() {
        return Precision.F32;
    }

    @Override
    public void run(List<? extends DeviceTensor> inputs, List<? extends DeviceTensor> outputs) {
        if (closed) {
            throw new IllegalStateException("executable of " + graph.name() + " is closed");
        }
        check(inputs, graph.inputs(), "input");
        check(outputs, graph.outputs(), "output");
        Map<DeviceTensor, Boolean> seen = new IdentityHashMap<>();
        for (DeviceTensor t : outputs) {
            if (seen.put(t, Boolean.TRUE) != null) {
                throw new IllegalArgumentException(graph.name() + ": the same device tensor is given for two outputs");
            }
        }
        for (DeviceTensor t : inputs) {
            if (seen.containsKey(t) && outputs.contains(t)) {
                throw new IllegalArgumentException(graph.name() + ": a device tensor is both an input and an output");
            }
        }
        MemorySegment[] buffers = fixed.clone();
        for (Value v : boundPerRun) {
            int index = plan.bindingIndex(v);
            DeviceTensor t = plan.binding(v) == BufferPlan.Binding.INPUT ? inputs.get(index) : outputs.get(index);
            buffers[v.id()] = CpuBackend.own(t, graph.name()).host().segment();
        }
        OperatorProfile p = profile.get();
        if (p == null) {
            for (Kernel k : kernels) {
                k.run(buffers);
            }
        } else {
            runProfiled(buffers, p);
        }
    }

    private void runProfiled(MemorySegment[] buffers, OperatorProfile p) {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        List<Op> ops = graph.ops();
        for (int i = 0; i < kernels.size(); i++) {
            long cpu0 = mx.getCurrentThreadCpuTime();
            long wall0 = System.nanoTime();
            kernels.get(i).run(buffers);
            long wall = System.nanoTime() - wall0;
            p.record(ops.get(i), wall, mx.getCurrentThreadCpuTime() - cpu0);
        }
    }

    private void check(List<? extends DeviceTensor> given, List<Value> wanted, String what) {
        if (given.size() != wanted.size()) {
            throw new IllegalArgumentException(graph.name() + " takes " + wanted.size() + " " + what + "s, got " + given.size());
        }
        for (int i = 0; i < given.size(); i++) {
            DeviceTensor t = given.get(i);
            Value v = wanted.get(i);
            if (!t.shape().equals(v.shape()) || t.dtype() != v.dtype()) {
                throw new IllegalArgumentException(graph.name() + " " + what + " " + i + " (" + v.name() + ") must be "
                        + v.shape() + " " + v.dtype() + ", got " + t.shape() + " " + t.dtype());
            }
            CpuBackend.own(t, graph.name());
        }
    }

    @Override
    public long arenaBytes() {
        return arenaBytes;
    }

    /** Bytes of the packed weights this executable uses (shared with other executables of the same model). */
    long weightBytes() {
        return context.weightBytes();
    }

    /** Bytes of this executable's scratch (packed activations, Winograd tiles). */
    long workspaceBytes() {
        return workspace.bytes();
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        onClose.accept(this);
        context.close();
        workspace.close();
        meter.release(arenaBytes);
        arenaMemory.close();
    }
}
