package io.jdiffusion.tornado.nvidia;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * One F16 convolution y = conv(x, w) (+ y, where {@code accumulate}) as an execution plan of cuDNN's graph API
 * (the "backend" descriptors of cudnn_graph.h), the way PyTorch and cuDNN's frontend call it: tensors x, w, y, one
 * convolution operation, engine configurations ranked by heuristics mode A, and the first that finalizes within the
 * workspace and computes as F32 would (no engine that down-converts its inputs, reduces in reduced precision, or is
 * not deterministic).
 *
 * <p>Why: the legacy cudnnConvolutionForward ran five of SD 1.5's UNet layers on cuDNN's SIMT implicit GEMM on an
 * H200, 2.6 ms of an 18.4 ms call, where PyTorch's graph-API call of the same shapes runs the sm90 tensor-core
 * kernels (docs/PERFORMANCE.md); the operands' alignment was ruled out (scripts/cudnn_alignment_probe.py). The graph
 * API also describes tensors by strides, so a filter may lie KRSC ({@code filterNhwc}) beside NCHW activations, which
 * the legacy filter descriptor refuses.
 *
 * <p>Built before any CUDA-graph capture (descriptors and heuristics are host work); {@link #execute} enqueues on the
 * handle's stream. A variant pack is made once per distinct set of operand addresses and kept, so a run replayed
 * without CUDA graphs creates nothing after its first.
 */
final class ConvGraphPlan {
    // cudnn_graph.h: cudnnBackendDescriptorType_t
    private static final int CONVOLUTION_DESCRIPTOR = 1;
    private static final int ENGINE_DESCRIPTOR = 2;
    private static final int ENGINECFG_DESCRIPTOR = 3;
    private static final int ENGINEHEUR_DESCRIPTOR = 4;
    private static final int EXECUTION_PLAN_DESCRIPTOR = 5;
    private static final int OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR = 10;
    private static final int OPERATIONGRAPH_DESCRIPTOR = 15;
    private static final int VARIANT_PACK_DESCRIPTOR = 16;
    private static final int TENSOR_DESCRIPTOR = 17;
    // cudnnBackendAttributeType_t
    private static final int TYPE_HANDLE = 0;
    private static final int TYPE_DATA_TYPE = 1;
    private static final int TYPE_INT64 = 3;
    private static final int TYPE_FLOAT = 4;
    private static final int TYPE_VOID_PTR = 6;
    private static final int TYPE_CONVOLUTION_MODE = 7;
    private static final int TYPE_HEUR_MODE = 8;
    private static final int TYPE_NUMERICAL_NOTE = 11;
    private static final int TYPE_BACKEND_DESCRIPTOR = 15;
    // cudnnBackendAttributeName_t
    private static final int CONVOLUTION_COMP_TYPE = 100;
    private static final int CONVOLUTION_CONV_MODE = 101;
    private static final int CONVOLUTION_DILATIONS = 102;
    private static final int CONVOLUTION_FILTER_STRIDES = 103;
    private static final int CONVOLUTION_POST_PADDINGS = 104;
    private static final int CONVOLUTION_PRE_PADDINGS = 105;
    private static final int CONVOLUTION_SPATIAL_DIMS = 106;
    private static final int ENGINEHEUR_MODE = 200;
    private static final int ENGINEHEUR_OPERATION_GRAPH = 201;
    private static final int ENGINEHEUR_RESULTS = 202;
    private static final int ENGINECFG_ENGINE = 300;
    private static final int EXECUTION_PLAN_HANDLE = 400;
    private static final int EXECUTION_PLAN_ENGINE_CONFIG = 401;
    private static final int EXECUTION_PLAN_WORKSPACE_SIZE = 402;
    private static final int CONV_FWD_ALPHA = 700;
    private static final int CONV_FWD_BETA = 701;
    private static final int CONV_FWD_CONV_DESC = 702;
    private static final int CONV_FWD_W = 703;
    private static final int CONV_FWD_X = 704;
    private static final int CONV_FWD_Y = 705;
    private static final int OPERATIONGRAPH_HANDLE = 800;
    private static final int OPERATIONGRAPH_OPS = 801;
    private static final int TENSOR_BYTE_ALIGNMENT = 900;
    private static final int TENSOR_DATA_TYPE = 901;
    private static final int TENSOR_DIMENSIONS = 902;
    private static final int TENSOR_STRIDES = 903;
    private static final int TENSOR_UNIQUE_ID = 906;
    private static final int VARIANT_PACK_UNIQUE_IDS = 1000;
    private static final int VARIANT_PACK_DATA_POINTERS = 1001;
    private static final int VARIANT_PACK_WORKSPACE = 1003;
    private static final int ENGINE_GLOBAL_INDEX = 1301;
    private static final int ENGINE_NUMERICAL_NOTE = 1303;
    // cudnnBackendHeurMode_t, cudnnBackendNumericalNote_t
    private static final int HEUR_MODE_A = 3;
    private static final int HEUR_MODE_FALLBACK = 2;
    private static final int NOTE_DOWN_CONVERT_INPUTS = 1;
    private static final int NOTE_REDUCED_PRECISION_REDUCTION = 2;
    private static final int NOTE_NONDETERMINISTIC = 4;
    /** The operands' unique ids in the graph and in every variant pack, in this order. */
    private static final long[] UIDS = {'x', 'w', 'y'};

    private final MemorySegment plan;
    private final long workspaceBytes;
    private final String engine;
    private final List<MemorySegment> owned;
    private final Map<List<Long>, MemorySegment> packs = new ConcurrentHashMap<>();

    private ConvGraphPlan(MemorySegment plan, long workspaceBytes, String engine, List<MemorySegment> owned) {
        this.plan = plan;
        this.workspaceBytes = workspaceBytes;
        this.engine = engine;
        this.owned = owned;
    }

    /**
     * The plan for {@code s} (F16) on {@code handle}, {@code accumulate} adding the convolution into y (beta 1), the
     * filter KCRS or ({@code filterNhwc}) KRSC; fails, naming what cuDNN refused, where no engine qualifies.
     */
    static ConvGraphPlan create(CudnnConv cudnn, MemorySegment handle, ConvShape s, boolean accumulate, boolean filterNhwc,
                                long workspaceLimit) {
        if (!s.half()) {
            throw new IllegalArgumentException("the graph-API path is F16 only (F32 stays on FMA math without TF32): " + s);
        }
        String what = s + (filterNhwc ? ", filter KRSC" : "") + (accumulate ? ", accumulating" : "") + " (graph API)";
        List<MemorySegment> owned = new ArrayList<>();
        try (Arena a = Arena.ofConfined()) {
            Descriptors d = new Descriptors(cudnn, a, what, owned);
            int r = s.r();
            int sw = s.s();
            int c = s.c();
            long[] wStrides = filterNhwc ? new long[]{(long) r * sw * c, 1, (long) sw * c, c} : new long[]{(long) c * r * sw, (long) r * sw, sw, 1};
            MemorySegment x = d.tensor(UIDS[0], new long[]{s.n(), c, s.h(), s.w()}, Arrays.stream(s.xStrides()).asLongStream().toArray());
            MemorySegment w = d.tensor(UIDS[1], new long[]{s.k(), c, r, sw}, wStrides);
            MemorySegment y = d.tensor(UIDS[2], new long[]{s.n(), s.k(), s.outH(), s.outW()}, Arrays.stream(s.yStrides()).asLongStream().toArray());

            MemorySegment conv = d.create(CONVOLUTION_DESCRIPTOR);
            d.setInts(conv, CONVOLUTION_COMP_TYPE, TYPE_DATA_TYPE, CudnnConv.DATA_FLOAT);
            d.setInts(conv, CONVOLUTION_CONV_MODE, TYPE_CONVOLUTION_MODE, CudnnConv.CROSS_CORRELATION);
            d.setLongs(conv, CONVOLUTION_SPATIAL_DIMS, 2);
            d.setLongs(conv, CONVOLUTION_DILATIONS, s.dilation(), s.dilation());
            d.setLongs(conv, CONVOLUTION_FILTER_STRIDES, s.stride(), s.stride());
            d.setLongs(conv, CONVOLUTION_PRE_PADDINGS, s.padH(), s.padW());
            d.setLongs(conv, CONVOLUTION_POST_PADDINGS, s.padH(), s.padW());
            d.finalize(conv);

            MemorySegment op = d.create(OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR);
            d.setDescriptors(op, CONV_FWD_X, x);
            d.setDescriptors(op, CONV_FWD_W, w);
            d.setDescriptors(op, CONV_FWD_Y, y);
            d.setDescriptors(op, CONV_FWD_CONV_DESC, conv);
            d.setFloat(op, CONV_FWD_ALPHA, 1f);
            d.setFloat(op, CONV_FWD_BETA, accumulate ? 1f : 0f);
            d.finalize(op);

            MemorySegment graph = d.create(OPERATIONGRAPH_DESCRIPTOR);
            d.setHandle(graph, OPERATIONGRAPH_HANDLE, handle);
            d.setDescriptors(graph, OPERATIONGRAPH_OPS, op);
            d.finalize(graph);

            List<String> refused = new ArrayList<>();
            for (int mode : new int[]{HEUR_MODE_A, HEUR_MODE_FALLBACK}) {
                ConvGraphPlan p = firstQualifying(d, handle, graph, mode, workspaceLimit, owned, refused);
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
    private static ConvGraphPlan firstQualifying(Descriptors d, MemorySegment handle, MemorySegment graph, int mode, long workspaceLimit,
                                                 List<MemorySegment> owned, List<String> refused) {
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
            return new ConvGraphPlan(plan, workspace, name + ", " + workspace + " bytes of workspace", owned);
        }
        return null;
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

    /** Enqueues the convolution on x, w, y (device addresses) with {@code workspace} (at least {@link #workspaceBytes}). */
    void execute(CudnnConv cudnn, MemorySegment handle, long x, long w, long y, long workspace, String what) {
        MemorySegment pack = packs.computeIfAbsent(List.of(x, w, y, workspace), k -> variantPack(cudnn, x, w, y, workspace, what));
        cudnn.call("cudnnBackendExecute", what, handle, plan, pack);
    }

    private MemorySegment variantPack(CudnnConv cudnn, long x, long w, long y, long workspace, String what) {
        try (Arena a = Arena.ofConfined()) {
            Descriptors d = new Descriptors(cudnn, a, what, owned);
            MemorySegment pack = d.create(VARIANT_PACK_DESCRIPTOR);
            d.setLongs(pack, VARIANT_PACK_UNIQUE_IDS, UIDS);
            d.setPointers(pack, VARIANT_PACK_DATA_POINTERS, x, w, y);
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

    /** Creating descriptors (each kept in {@code owned} to be destroyed), setting and reading their attributes. */
    private record Descriptors(CudnnConv cudnn, Arena a, String what, List<MemorySegment> owned) {
        MemorySegment create(int type) {
            MemorySegment out = a.allocate(ADDRESS);
            cudnn.call("cudnnBackendCreateDescriptor", what, type, out);
            MemorySegment d = out.get(ADDRESS, 0);
            synchronized (owned) {
                owned.add(d);
            }
            return d;
        }

        MemorySegment tensor(long uid, long[] dims, long[] strides) {
            MemorySegment t = create(TENSOR_DESCRIPTOR);
            setInts(t, TENSOR_DATA_TYPE, TYPE_DATA_TYPE, CudnnConv.DATA_HALF);
            setLongs(t, TENSOR_DIMENSIONS, dims);
            setLongs(t, TENSOR_STRIDES, strides);
            setLongs(t, TENSOR_UNIQUE_ID, uid);
            setLongs(t, TENSOR_BYTE_ALIGNMENT, CudnnConvolution.GRAPH_OPERAND_ALIGNMENT);
            finalize(t);
            return t;
        }

        void finalize(MemorySegment d) {
            cudnn.call("cudnnBackendFinalize", what, d);
        }

        private void set(MemorySegment d, int name, int type, long count, MemorySegment values) {
            cudnn.call("cudnnBackendSetAttribute", what + ", attribute " + name, d, name, type, count, values);
        }

        void setLongs(MemorySegment d, int name, long... values) {
            set(d, name, TYPE_INT64, values.length, a.allocateFrom(JAVA_LONG, values));
        }

        /** An attribute whose C type is an enum (4 bytes). */
        void setInts(MemorySegment d, int name, int type, int... values) {
            set(d, name, type, values.length, a.allocateFrom(JAVA_INT, values));
        }

        void setFloat(MemorySegment d, int name, float value) {
            set(d, name, TYPE_FLOAT, 1, a.allocateFrom(JAVA_FLOAT, value));
        }

        void setHandle(MemorySegment d, int name, MemorySegment handle) {
            MemorySegment v = a.allocate(ADDRESS);
            v.set(ADDRESS, 0, handle);
            set(d, name, TYPE_HANDLE, 1, v);
        }

        void setDescriptors(MemorySegment d, int name, MemorySegment... values) {
            set(d, name, TYPE_BACKEND_DESCRIPTOR, values.length, addresses(values));
        }

        void setPointers(MemorySegment d, int name, long... addresses) {
            MemorySegment v = a.allocate(ADDRESS, addresses.length);
            for (int i = 0; i < addresses.length; i++) {
                v.setAtIndex(ADDRESS, i, MemorySegment.ofAddress(addresses[i]));
            }
            set(d, name, TYPE_VOID_PTR, addresses.length, v);
        }

        private MemorySegment addresses(MemorySegment[] values) {
            MemorySegment v = a.allocate(ADDRESS, values.length);
            for (int i = 0; i < values.length; i++) {
                v.setAtIndex(ADDRESS, i, values[i]);
            }
            return v;
        }

        /** How many elements attribute {@code name} (descriptors) holds. */
        long count(MemorySegment d, int name) {
            MemorySegment count = a.allocate(JAVA_LONG);
            cudnn.call("cudnnBackendGetAttribute", what + ", attribute " + name, d, name, TYPE_BACKEND_DESCRIPTOR, 0L, count,
                    MemorySegment.NULL);
            return count.get(JAVA_LONG, 0);
        }

        /** Fills the caller-created {@code into} from attribute {@code name}; returns how many cuDNN wrote. */
        int getDescriptors(MemorySegment d, int name, MemorySegment... into) {
            MemorySegment count = a.allocate(JAVA_LONG);
            cudnn.call("cudnnBackendGetAttribute", what + ", attribute " + name, d, name, TYPE_BACKEND_DESCRIPTOR, (long) into.length, count,
                    addresses(into));
            return (int) count.get(JAVA_LONG, 0);
        }

        long getLong(MemorySegment d, int name) {
            MemorySegment count = a.allocate(JAVA_LONG);
            MemorySegment v = a.allocate(JAVA_LONG);
            cudnn.call("cudnnBackendGetAttribute", what + ", attribute " + name, d, name, TYPE_INT64, 1L, count, v);
            return v.get(JAVA_LONG, 0);
        }

        int[] getInts(MemorySegment d, int name, int type, int max) {
            MemorySegment count = a.allocate(JAVA_LONG);
            MemorySegment v = a.allocate(JAVA_INT, max);
            cudnn.call("cudnnBackendGetAttribute", what + ", attribute " + name, d, name, type, (long) max, count, v);
            int n = (int) Math.min(max, count.get(JAVA_LONG, 0));
            int[] out = new int[n];
            for (int i = 0; i < n; i++) {
                out[i] = v.getAtIndex(JAVA_INT, i);
            }
            return out;
        }
    }
}
