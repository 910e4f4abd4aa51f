package io.jdiffusion.tornado.nvidia;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static io.jdiffusion.tornado.nvidia.GraphDescriptors.ENGINECFG_DESCRIPTOR;
import static io.jdiffusion.tornado.nvidia.GraphDescriptors.ENGINECFG_ENGINE;
import static io.jdiffusion.tornado.nvidia.GraphDescriptors.ENGINEHEUR_DESCRIPTOR;
import static io.jdiffusion.tornado.nvidia.GraphDescriptors.ENGINEHEUR_MODE;
import static io.jdiffusion.tornado.nvidia.GraphDescriptors.ENGINEHEUR_OPERATION_GRAPH;
import static io.jdiffusion.tornado.nvidia.GraphDescriptors.ENGINEHEUR_RESULTS;
import static io.jdiffusion.tornado.nvidia.GraphDescriptors.ENGINE_DESCRIPTOR;
import static io.jdiffusion.tornado.nvidia.GraphDescriptors.ENGINE_GLOBAL_INDEX;
import static io.jdiffusion.tornado.nvidia.GraphDescriptors.ENGINE_NUMERICAL_NOTE;
import static io.jdiffusion.tornado.nvidia.GraphDescriptors.EXECUTION_PLAN_DESCRIPTOR;
import static io.jdiffusion.tornado.nvidia.GraphDescriptors.EXECUTION_PLAN_ENGINE_CONFIG;
import static io.jdiffusion.tornado.nvidia.GraphDescriptors.EXECUTION_PLAN_HANDLE;
import static io.jdiffusion.tornado.nvidia.GraphDescriptors.EXECUTION_PLAN_WORKSPACE_SIZE;
import static io.jdiffusion.tornado.nvidia.GraphDescriptors.OPERATIONGRAPH_DESCRIPTOR;
import static io.jdiffusion.tornado.nvidia.GraphDescriptors.OPERATIONGRAPH_HANDLE;
import static io.jdiffusion.tornado.nvidia.GraphDescriptors.OPERATIONGRAPH_OPS;
import static io.jdiffusion.tornado.nvidia.GraphDescriptors.TYPE_HEUR_MODE;
import static io.jdiffusion.tornado.nvidia.GraphDescriptors.TYPE_NUMERICAL_NOTE;
import static io.jdiffusion.tornado.nvidia.GraphDescriptors.VARIANT_PACK_DATA_POINTERS;
import static io.jdiffusion.tornado.nvidia.GraphDescriptors.VARIANT_PACK_DESCRIPTOR;
import static io.jdiffusion.tornado.nvidia.GraphDescriptors.VARIANT_PACK_UNIQUE_IDS;
import static io.jdiffusion.tornado.nvidia.GraphDescriptors.VARIANT_PACK_WORKSPACE;

/**
 * An execution plan of cuDNN's graph API for one finalized operation (a convolution, an attention): the operation
 * graph, engine configurations ranked by heuristics mode A and then the fallback list, and the first that finalizes
 * within the workspace and computes as F32 would (no engine that down-converts its inputs, reduces in reduced
 * precision, or is not deterministic). This is how PyTorch and cuDNN's frontend call cuDNN.
 *
 * <p>Built before any CUDA-graph capture (descriptors and heuristics are host work); {@link #execute} enqueues on the
 * handle's stream. A variant pack is made once per distinct set of operand addresses and kept, so a run replayed
 * without CUDA graphs creates nothing after its first.
 */
final class GraphExecutionPlan {
    // cudnnBackendHeurMode_t, cudnnBackendNumericalNote_t
    private static final int HEUR_MODE_A = 3;
    private static final int HEUR_MODE_FALLBACK = 2;
    private static final int NOTE_DOWN_CONVERT_INPUTS = 1;
    private static final int NOTE_REDUCED_PRECISION_REDUCTION = 2;
    private static final int NOTE_NONDETERMINISTIC = 4;

    private final MemorySegment plan;
    private final long[] uids;
    private final long workspaceBytes;
    private final String engine;
    private final List<MemorySegment> owned;
    private final Map<List<Long>, MemorySegment> packs = new ConcurrentHashMap<>();

    private GraphExecutionPlan(MemorySegment plan, long[] uids, long workspaceBytes, String engine, List<MemorySegment> owned) {
        this.plan = plan;
        this.uids = uids;
        this.workspaceBytes = workspaceBytes;
        this.engine = engine;
        this.owned = owned;
    }

    /** Builds one operation's descriptors, finalized, from the descriptors given (which own what they create). */
    @FunctionalInterface
    interface Operation {
        MemorySegment build(GraphDescriptors d);
    }

    /**
     * The plan of {@code operation} on {@code handle}, its operands named in variant packs by {@code uids} in this
     * order; fails, naming {@code what} and what cuDNN refused, where no engine qualifies.
     */
    static GraphExecutionPlan create(CudnnConv cudnn, MemorySegment handle, String what, long[] uids, long workspaceLimit,
                                     Operation operation) {
        List<MemorySegment> owned = new ArrayList<>();
        try (Arena a = Arena.ofConfined()) {
            GraphDescriptors d = new GraphDescriptors(cudnn, a, what, owned);
            MemorySegment op = operation.build(d);
            MemorySegment graph = d.create(OPERATIONGRAPH_DESCRIPTOR);
            d.setHandle(graph, OPERATIONGRAPH_HANDLE, handle);
            d.setDescriptors(graph, OPERATIONGRAPH_OPS, op);
            d.finalize(graph);
            List<String> refused = new ArrayList<>();
            for (int mode : new int[]{HEUR_MODE_A, HEUR_MODE_FALLBACK}) {
                GraphExecutionPlan p = firstQualifying(d, handle, graph, mode, uids.clone(), workspaceLimit, owned, refused);
                if (p != null) {
                    return p;
                }
            }
            throw new IllegalStateException("cuDNN's graph API has no engine for " + what + " within " + workspaceLimit
                    + " bytes of workspace: " + refused);
        } catch (RuntimeException e) {
            destroy(cudnn, owned, e);
            throw e;
        }
    }

    /** The first engine configuration of {@code mode}'s ranking that qualifies and finalizes, or null. */
    private static GraphExecutionPlan firstQualifying(GraphDescriptors d, MemorySegment handle, MemorySegment graph, int mode, long[] uids,
                                                      long workspaceLimit, List<MemorySegment> owned, List<String> refused) {
        MemorySegment heur = d.create(ENGINEHEUR_DESCRIPTOR);
        d.setDescriptors(heur, ENGINEHEUR_OPERATION_GRAPH, graph);
        d.setInts(heur, ENGINEHEUR_MODE, TYPE_HEUR_MODE, mode);
        try {
            d.finalize(heur);
        } catch (CudnnException e) {
            refused.add("heuristics mode " + mode + ": " + e.getMessage());
            return null;
        }
        long count = d.count(heur, ENGINEHEUR_RESULTS);
        if (count == 0) {
            refused.add("heuristics mode " + mode + ": no engine configuration");
            return null;
        }
        MemorySegment[] configs = new MemorySegment[(int) count];
        for (int i = 0; i < configs.length; i++) {
            configs[i] = d.create(ENGINECFG_DESCRIPTOR);
        }
        int returned = d.getDescriptors(heur, ENGINEHEUR_RESULTS, configs);
        for (int i = 0; i < returned; i++) {
            MemorySegment engine = d.create(ENGINE_DESCRIPTOR);
            d.getDescriptors(configs[i], ENGINECFG_ENGINE, engine);
            long index = d.getLong(engine, ENGINE_GLOBAL_INDEX);
            int[] notes = d.getInts(engine, ENGINE_NUMERICAL_NOTE, TYPE_NUMERICAL_NOTE, 16);
            String name = "engine " + index + " (mode " + (mode == HEUR_MODE_A ? "A" : "fallback") + ", rank " + i + ")";
            if (excluded(notes)) {
                refused.add(name + ": numerical notes " + Arrays.toString(notes));
                continue;
            }
            MemorySegment plan = d.create(EXECUTION_PLAN_DESCRIPTOR);
            d.setHandle(plan, EXECUTION_PLAN_HANDLE, handle);
            d.setDescriptors(plan, EXECUTION_PLAN_ENGINE_CONFIG, configs[i]);
            try {
                d.finalize(plan);
            } catch (CudnnException e) {
                refused.add(name + ": " + e.status());
                continue;
            }
            long workspace = d.getLong(plan, EXECUTION_PLAN_WORKSPACE_SIZE);
            if (workspace > workspaceLimit) {
                refused.add(name + ": workspace " + workspace);
                continue;
            }
            return new GraphExecutionPlan(plan, uids, workspace, name + ", " + workspace + " bytes of workspace", owned);
        }
        return null;
    }

    /**
     * Fails, naming {@code what}, where a device operand is less aligned than the
     * {@link CudnnConvolution#GRAPH_OPERAND_ALIGNMENT} bytes its tensor declares ({@link GraphDescriptors#halfTensor}):
     * an engine chosen for that alignment could fault on it.
     */
    static void requireDeclaredAlignment(String what, long... deviceOperands) {
        for (long operand : deviceOperands) {
            if (CudnnConvolution.alignment(operand) < CudnnConvolution.GRAPH_OPERAND_ALIGNMENT) {
                throw new IllegalStateException("an operand of " + what + " is less aligned than the "
                        + CudnnConvolution.GRAPH_OPERAND_ALIGNMENT + " bytes its graph-API plan declares");
            }
        }
    }

    /** Whether an engine's numerical notes rule it out: F16 inputs must not be narrowed further, nor sums kept in F16. */
    static boolean excluded(int[] notes) {
        for (int n : notes) {
            if (n == NOTE_DOWN_CONVERT_INPUTS || n == NOTE_REDUCED_PRECISION_REDUCTION || n == NOTE_NONDETERMINISTIC) {
                return true;
            }
        }
        return false;
    }

    /**
     * Enqueues the plan on {@code pointers} (one per unique id, in order: device addresses, or host addresses for
     * by-value scalars) with {@code workspace} (at least {@link #workspaceBytes}).
     */
    void execute(CudnnConv cudnn, MemorySegment handle, long workspace, String what, long... pointers) {
        if (pointers.length != uids.length) {
            throw new IllegalArgumentException(what + ": " + pointers.length + " operands for " + uids.length + " unique ids");
        }
        List<Long> key = new ArrayList<>(pointers.length + 1);
        for (long p : pointers) {
            key.add(p);
        }
        key.add(workspace);
        MemorySegment pack = packs.computeIfAbsent(List.copyOf(key), k -> variantPack(cudnn, pointers, workspace, what));
        cudnn.call("cudnnBackendExecute", what, handle, plan, pack);
    }

    private MemorySegment variantPack(CudnnConv cudnn, long[] pointers, long workspace, String what) {
        try (Arena a = Arena.ofConfined()) {
            GraphDescriptors d = new GraphDescriptors(cudnn, a, what, owned);
            MemorySegment pack = d.create(VARIANT_PACK_DESCRIPTOR);
            d.setLongs(pack, VARIANT_PACK_UNIQUE_IDS, uids);
            d.setPointers(pack, VARIANT_PACK_DATA_POINTERS, pointers);
            d.setPointers(pack, VARIANT_PACK_WORKSPACE, workspace);
            d.finalize(pack);
            return pack;
        }
    }

    long workspaceBytes() {
        return workspaceBytes;
    }

    String engine() {
        return engine;
    }

    void destroy(CudnnConv cudnn) {
        destroy(cudnn, owned, null);
        packs.clear();
    }

    private static void destroy(CudnnConv cudnn, List<MemorySegment> owned, RuntimeException failure) {
        synchronized (owned) {
            for (MemorySegment m : owned.reversed()) {
                try {
                    cudnn.call("cudnnBackendDestroyDescriptor", "a graph-API descriptor", m);
                } catch (RuntimeException e) {
                    if (failure == null) {
                        throw e;
                    }
                    failure.addSuppressed(e);
                }
            }
            owned.clear();
        }
    }
}
