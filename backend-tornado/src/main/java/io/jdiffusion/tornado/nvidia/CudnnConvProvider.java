package io.jdiffusion.tornado.nvidia;

import uk.ac.manchester.tornado.runtime.library.spi.LibraryInvocation;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * jdiffusion's convolution library task on TornadoVM's CUDA backend: cuDNN's legacy convolution on operands at
 * element offsets of TornadoVM arrays ({@link CudnnConvolution}), on the execution plan's own stream. The
 * descriptors and the algorithm are chosen once per shape in {@link #prepare}, which TornadoVM calls before it
 * captures the plan's first run into a CUDA graph; {@link #dispatch} then only computes the operand addresses
 * and enqueues, with no allocation and no synchronisation (it runs inside the capture; later runs replay it).
 * Found by TornadoVM through {@code META-INF/services}.
 */
public final class CudnnConvProvider extends CudnnPlanProvider<CudnnConvolution, CudnnConvolution.PlanKey, ConvPlan> {
    public static final String NAME = "jdiffusion/cudnnconv";

    /** Host-side scaling factors cuDNN reads at each call (float: the compute type of both F16 and F32 here). */
    private static final MemorySegment ONE = Arena.global().allocateFrom(JAVA_FLOAT, 1f);
    private static final MemorySegment ZERO = Arena.global().allocateFrom(JAVA_FLOAT, 0f);
    /** Convolutions enqueued in this JVM (a replayed CUDA graph enqueues none): how tests see that cuDNN ran. */
    private static final AtomicLong DISPATCHES = new AtomicLong();
    /** What each plan made in this JVM chose (shape, algorithm, math, workspace, fusion), for logs and tests. */
    private static final List<String> PLANS = new CopyOnWriteArrayList<>();
    /**
     * Each distinct plan and operand alignments dispatched in this JVM, in the order first seen, for logs: cuDNN picks
     * kernels by alignment too. A set, so that runs without CUDA-graph replay, which dispatch at every run, add nothing.
     */
    private static final Set<String> DISPATCHED = Collections.synchronizedSet(new LinkedHashSet<>());
    /**
     * Bytes a workspace array holds beyond {@link CudnnConvolution#workspaceBytes()}: the workspace pointer is
     * rounded up to a multiple of this, as cudaMalloc would return it (a TornadoVM array's data starts past its
     * header), so cuDNN never sees a workspace less aligned than its own allocations.
     */
    public static final int WORKSPACE_ALIGNMENT = 256;

    public CudnnConvProvider() {
        super(NAME, CudnnConvolution.FUNCTION, CudnnConvolution.class);
    }

    @Override
    CudnnConvolution.PlanKey key(CudnnConvolution t) {
        return t.planKey();
    }

    @Override
    ConvPlan create(CudnnConv cudnn, MemorySegment handle, CudnnConvolution t) {
        ConvPlan plan = ConvPlan.create(cudnn, handle, t);
        PLANS.add(plan.describe());
        return plan;
    }

    @Override
    void destroy(CudnnConv cudnn, ConvPlan plan) {
        plan.destroy(cudnn);
    }

    @Override
    void dispatch(LibraryInvocation invocation) {
        CudnnContext<CudnnConvolution.PlanKey, ConvPlan> context = context(invocation.getContext());
        CudnnConvolution t = tuning(invocation.getTuning());
        // prepared before the capture: a lookup here (created now only where TornadoVM skipped prepare)
        ConvPlan plan = plan(context, t);
        int bytes = t.shape().elementBytes();
        long x = t.x().address(invocation.getDevicePointer(t.x().argument()), bytes);
        long w = t.w().address(invocation.getDevicePointer(t.w().argument()), bytes);
        long y = t.y().address(invocation.getDevicePointer(t.y().argument()), bytes);
        long bias = t.bias() == null ? 0 : t.bias().address(invocation.getDevicePointer(t.bias().argument()), bytes);
        long residual = t.residual() == null ? 0 : t.residual().address(invocation.getDevicePointer(t.residual().argument()), bytes);
        long workspace = alignedWorkspace(invocation.getDevicePointer(t.workspace()));
        CudnnConv cudnn = CudnnConv.get();
        String what = plan.describe() + ", operand alignments x " + CudnnConvolution.alignment(x) + " w " + CudnnConvolution.alignment(w)
                + " y " + CudnnConvolution.alignment(y) + (t.residual() == null ? "" : " residual " + CudnnConvolution.alignment(residual))
                + (t.bias() == null ? "" : " bias " + CudnnConvolution.alignment(bias)) + " workspace "
                + CudnnConvolution.alignment(workspace) + " bytes";
        DISPATCHES.incrementAndGet();
        DISPATCHED.add(what);
        MemorySegment h = context.handle();
        MemorySegment ws = MemorySegment.ofAddress(workspace);
        if (plan.fused()) {
            cudnn.call("cudnnConvolutionBiasActivationForward", what, h, ONE, plan.x(), MemorySegment.ofAddress(x), plan.w(),
                    MemorySegment.ofAddress(w), plan.conv(), plan.algorithm(), ws, t.workspaceBytes(), ONE, plan.y(),
                    MemorySegment.ofAddress(residual), plan.bias(), MemorySegment.ofAddress(bias), plan.activation(), plan.y(),
                    MemorySegment.ofAddress(y));
            return;
        }
        boolean inPlace = t.residual() != null && residual == y;
        if (t.residual() != null && !inPlace && overlaps(residual, y, t.shape().yElements() * bytes)) {
            throw new IllegalStateException("the residual of " + plan.describe() + " overlaps its output without being it");
        }
        // y = conv(x) (+ y where the residual is y itself)
        if (plan.graph() != null) {
            GraphExecutionPlan.requireDeclaredAlignment(what, x, w, y);
            (inPlace ? plan.graphAccumulate() : plan.graph()).execute(cudnn, h, workspace, what, x, w, y);
        } else {
            cudnn.call("cudnnConvolutionForward", what, h, ONE, plan.x(), MemorySegment.ofAddress(x), plan.w(), MemorySegment.ofAddress(w),
                    plan.conv(), plan.algorithm(), ws, t.workspaceBytes(), inPlace ? ONE : ZERO, plan.y(), MemorySegment.ofAddress(y));
        }
        if (t.residual() != null && !inPlace) {
            cudnn.call("cudnnAddTensor", "residual, " + what, h, ONE, plan.y(), MemorySegment.ofAddress(residual), ONE, plan.y(),
                    MemorySegment.ofAddress(y));
        }
        if (t.bias() != null) {
            cudnn.call("cudnnAddTensor", "bias, " + what, h, ONE, plan.bias(), MemorySegment.ofAddress(bias), ONE, plan.y(),
                    MemorySegment.ofAddress(y));
        }
    }

    /** The first {@link #WORKSPACE_ALIGNMENT}-byte boundary at or after {@code pointer}. */
    static long alignedWorkspace(long pointer) {
        return (pointer + WORKSPACE_ALIGNMENT - 1) & -WORKSPACE_ALIGNMENT;
    }

    /** Each distinct convolution dispatched in this JVM so far: its plan and its operands' alignments, one line each. */
    public static List<String> dispatched() {
        synchronized (DISPATCHED) {
            return List.copyOf(DISPATCHED);
        }
    }

    /** Convolutions dispatched in this JVM so far. */
    public static long dispatches() {
        return DISPATCHES.get();
    }

    /** The choices of the plans made in this JVM so far, one line each. */
    public static List<String> plansMade() {
        return List.copyOf(PLANS);
    }

    private static boolean overlaps(long a, long b, long bytes) {
        return a < b + bytes && b < a + bytes;
    }

    /** Reads entry {@code i} of cudnnGetConvolutionForwardAlgorithm_v7's results. */
    static AlgorithmChoice.Candidate candidate(MemorySegment perf, int i) {
        long base = i * CudnnConv.ALGO_PERF.byteSize();
        return new AlgorithmChoice.Candidate(perf.get(JAVA_INT, base + CudnnConv.PERF_ALGO), perf.get(JAVA_INT, base + CudnnConv.PERF_STATUS),
                perf.get(JAVA_LONG, base + CudnnConv.PERF_MEMORY), perf.get(JAVA_INT, base + CudnnConv.PERF_MATH));
    }
}
