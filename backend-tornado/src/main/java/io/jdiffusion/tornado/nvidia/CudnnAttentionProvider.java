package io.jdiffusion.tornado.nvidia;

import uk.ac.manchester.tornado.runtime.library.spi.LibraryInvocation;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * jdiffusion's attention library task on TornadoVM's CUDA backend: cuDNN's fused F16 attention as a graph-API
 * execution plan ({@link SdpaGraphPlan}) on Q, K, V and O at element offsets of TornadoVM arrays, on the execution
 * plan's own stream. Each shape's plan is made in {@link #prepare}, before TornadoVM captures the plan's first run
 * into a CUDA graph; {@link #dispatch} computes the operand addresses and enqueues, with no allocation after a
 * shape's first call and no synchronisation. Found by TornadoVM through {@code META-INF/services}.
 */
public final class CudnnAttentionProvider extends CudnnPlanProvider<CudnnAttention, CudnnAttention.PlanKey, SdpaGraphPlan> {
    public static final String NAME = "jdiffusion/cudnnsdpa";

    /** Attentions enqueued in this JVM (a replayed CUDA graph enqueues none): how tests see that cuDNN ran. */
    private static final AtomicLong DISPATCHES = new AtomicLong();
    /** Each plan made in this JVM: its shape and engine, for logs and tests. */
    private static final List<String> PLANS = new CopyOnWriteArrayList<>();

    /** The first cuDNN with the single SDPA forward operation that {@link SdpaGraphPlan} builds: 9.13.0. */
    static final long FIRST_SDPA_OPERATION_VERSION = 91300;

    /**
     * Whether the cuDNN this process loads has the single SDPA operation. Asked while a graph is compiled, before
     * any attention is planned: with an older cuDNN the attention goes through TornadoVM's binding instead of
     * failing at the first run. False where cuDNN does not load.
     */
    public static boolean sdpaOperationAvailable() {
        try {
            return CudnnConv.get().version() >= FIRST_SDPA_OPERATION_VERSION;
        } catch (IllegalStateException noCudnn) {
            return false;
        }
    }

    public CudnnAttentionProvider() {
        super(NAME, CudnnAttention.FUNCTION, CudnnAttention.class);
    }

    @Override
    CudnnAttention.PlanKey key(CudnnAttention t) {
        return t.planKey();
    }

    @Override
    SdpaGraphPlan create(CudnnConv cudnn, MemorySegment handle, CudnnAttention t) {
        SdpaGraphPlan plan = SdpaGraphPlan.create(cudnn, handle, t.shape(), t.workspaceBytes());
        PLANS.add(t.shape() + ": " + plan.plan().engine());
        return plan;
    }

    @Override
    void destroy(CudnnConv cudnn, SdpaGraphPlan plan) {
        plan.plan().destroy(cudnn);
    }

    @Override
    void dispatch(LibraryInvocation invocation) {
        CudnnContext<CudnnAttention.PlanKey, SdpaGraphPlan> context = context(invocation.getContext());
        CudnnAttention t = tuning(invocation.getTuning());
        SdpaGraphPlan plan = plan(context, t); // made in prepare, before the capture: a lookup here
        int bytes = Short.BYTES;
        long q = t.q().address(invocation.getDevicePointer(t.q().argument()), bytes);
        long k = t.k().address(invocation.getDevicePointer(t.k().argument()), bytes);
        long v = t.v().address(invocation.getDevicePointer(t.v().argument()), bytes);
        long o = t.o().address(invocation.getDevicePointer(t.o().argument()), bytes);
        long workspace = CudnnConvProvider.alignedWorkspace(invocation.getDevicePointer(t.workspace()));
        String what = t.shape() + ", " + plan.plan().engine();
        GraphExecutionPlan.requireDeclaredAlignment(what, q, k, v, o);
        DISPATCHES.incrementAndGet();
        plan.execute(CudnnConv.get(), context.handle(), q, k, v, o, workspace, what);
    }

    /** Attentions dispatched in this JVM so far. */
    public static long dispatches() {
        return DISPATCHES.get();
    }

    /** The plans made in this JVM so far, one line each. */
    public static List<String> plansMade() {
        return List.copyOf(PLANS);
    }
}
