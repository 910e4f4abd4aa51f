package io.jdiffusion.tornado.nvidia;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/**
 * One F16 attention O = softmax(scale Q K^T) V as an execution plan of cuDNN's graph API ({@link GraphExecutionPlan}):
 * cuDNN 9.13's single SDPA forward operation (the one cuDNN's frontend builds where it can, its "unified" SDPA) on
 * Q, K, V and O where they lie, [batch, sequence, heads x d] row-major, described to cuDNN as [batch, heads, sequence,
 * d] with strides (sequence x heads x d, d, heads x d, 1): cuDNN reads the heads in place.
 *
 * <p>Why: TornadoVM's cuDNN binding takes whole arrays in [batch, heads, sequence, d] order, so each attention
 * copied Q, K and V into that layout and O back: about 1 ms of a 512x512 UNet call's 18.4 ms on an H200 (Nsight
 * Compute, docs/PERFORMANCE.md), and four more launches.
 *
 * @param scale the scale in host memory, for as long as the plan lives: cuDNN reads a by-value scalar from its pointer
 */
record SdpaGraphPlan(GraphExecutionPlan plan, MemorySegment scale) {
    // cudnn_graph.h (cuDNN 9.13): cudnnBackendDescriptorType_t, cudnnBackendAttributeName_t
    private static final int OPERATION_SDPA_FWD_DESCRIPTOR = 41;
    private static final int SDPA_FWD_QDESC = 2800;
    private static final int SDPA_FWD_KDESC = 2801;
    private static final int SDPA_FWD_VDESC = 2802;
    private static final int SDPA_FWD_ODESC = 2803;
    private static final int SDPA_FWD_SCALEDESC = 2805;
    /** The operands' unique ids in the graph and in every variant pack, in this order; the scale is passed by value. */
    private static final long[] UIDS = {'q', 'k', 'v', 'o', 's'};

    /** The plan for {@code s} on {@code handle}; fails, naming what cuDNN refused, where no engine qualifies. */
    static SdpaGraphPlan create(CudnnConv cudnn, MemorySegment handle, SdpaShape s, long workspaceLimit) {
        String what = s + " (graph API)";
        GraphExecutionPlan plan = GraphExecutionPlan.create(cudnn, handle, what, UIDS, workspaceLimit, d -> {
            MemorySegment q = d.halfTensor(UIDS[0], s.dims(s.queries()), s.strides(s.queries()));
            MemorySegment k = d.halfTensor(UIDS[1], s.dims(s.keys()), s.strides(s.keys()));
            MemorySegment v = d.halfTensor(UIDS[2], s.dims(s.keys()), s.strides(s.keys()));
            MemorySegment o = d.halfTensor(UIDS[3], s.dims(s.queries()), s.strides(s.queries()));
            MemorySegment scale = d.floatScalarByValue(UIDS[4], 4);
            MemorySegment op = d.create(OPERATION_SDPA_FWD_DESCRIPTOR);
            d.setDescriptors(op, SDPA_FWD_QDESC, q);
            d.setDescriptors(op, SDPA_FWD_KDESC, k);
            d.setDescriptors(op, SDPA_FWD_VDESC, v);
            d.setDescriptors(op, SDPA_FWD_ODESC, o);
            d.setDescriptors(op, SDPA_FWD_SCALEDESC, scale);
            d.finalize(op);
            return op;
        });
        return new SdpaGraphPlan(plan, Arena.ofAuto().allocateFrom(JAVA_FLOAT, s.scale()));
    }

    /** Enqueues the attention on q, k, v, o (device addresses) with {@code workspace} (at least the plan's {@link GraphExecutionPlan#workspaceBytes}). */
    void execute(CudnnConv cudnn, MemorySegment handle, long q, long k, long v, long o, long workspace, String what) {
        plan.execute(cudnn, handle, workspace, what, q, k, v, o, scale.address());
    }
}
