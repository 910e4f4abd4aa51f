package io.jdiffusion.tornado.nvidia;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * cuDNN's state for one convolution shape on one handle: the descriptors of x, the filter, y (a residual has y's
 * layout and uses y's descriptor), the bias [1, k, 1, 1], the convolution and an identity activation, the
 * algorithm chosen for them, and whether bias and residual fuse into cudnnConvolutionBiasActivationForward (which
 * runs an identity activation only with IMPLICIT_PRECOMP_GEMM, so only where that is the algorithm chosen); or,
 * where the task asks for the graph API ({@link CudnnConvolution#graph}), its plans ({@link ConvGraphPlan}): one
 * writing y, and one adding into y for a residual that is y itself. The legacy descriptors stay for the bias and
 * residual additions (cudnnAddTensor). A graph plan cuDNN refuses falls back to the legacy algorithm, saying why,
 * except with a KRSC filter, which only the graph API takes.
 * Created in the provider's prepare, before any CUDA-graph capture: creating descriptors allocates host memory only,
 * and the algorithm query runs no kernel.
 */
record ConvPlan(CudnnConvolution.PlanKey key, MemorySegment x, MemorySegment w, MemorySegment y, MemorySegment bias, MemorySegment conv,
                MemorySegment activation, int algorithm, boolean fused, GraphExecutionPlan graph, GraphExecutionPlan graphAccumulate, String choice) {
    /** The algorithms measured in this JVM, per shape: executables of one shape measure once. */
    private static final Map<CudnnConvolution.PlanKey, AlgorithmChoice.Choice> MEASURED = new ConcurrentHashMap<>();

    static ConvPlan create(CudnnConv cudnn, MemorySegment handle, CudnnConvolution t) {
        ConvShape s = t.shape();
        String what = s.toString();
        int type = s.half() ? CudnnConv.DATA_HALF : CudnnConv.DATA_FLOAT;
        List<Runnable> undo = new ArrayList<>();
        try {
            MemorySegment x = tensor(cudnn, type, s.n(), s.c(), s.h(), s.w(), s.xStrides(), "x of " + what, undo);
            MemorySegment y = tensor(cudnn, type, s.n(), s.k(), s.outH(), s.outW(), s.yStrides(), "y of " + what, undo);
            MemorySegment bias = tensor(cudnn, type, 1, s.k(), 1, 1, new int[]{s.k(), 1, 1, 1}, "bias of " + what, undo);
            MemorySegment w = cudnn.create("cudnnCreateFilterDescriptor", what);
            undo.add(() -> cudnn.call("cudnnDestroyFilterDescriptor", what, w));
            // the dimensions are k, c, r, s in either format; the format says how they lie in memory
            cudnn.call("cudnnSetFilter4dDescriptor", "filter of " + what, w, type, CudnnConv.TENSOR_NCHW, s.k(), s.c(), s.r(), s.s());
            MemorySegment conv = cudnn.create("cudnnCreateConvolutionDescriptor", what);
            undo.add(() -> cudnn.call("cudnnDestroyConvolutionDescriptor", what, conv));
            // F32 compute for both: F16 data accumulates in F32 (PSEUDO_HALF_CONFIG)
            cudnn.call("cudnnSetConvolution2dDescriptor", what, conv, s.padH(), s.padW(), s.stride(), s.stride(), s.dilation(), s.dilation(),
                    CudnnConv.CROSS_CORRELATION, CudnnConv.DATA_FLOAT);
            cudnn.call("cudnnSetConvolutionMathType", what, conv, s.half() ? CudnnConv.TENSOR_OP_MATH : CudnnConv.FMA_MATH);
            MemorySegment activation = cudnn.create("cudnnCreateActivationDescriptor", what);
            undo.add(() -> cudnn.call("cudnnDestroyActivationDescriptor", what, activation));
            cudnn.call("cudnnSetActivationDescriptor", what, activation, CudnnConv.ACTIVATION_IDENTITY, CudnnConv.NOT_PROPAGATE_NAN, 0.0);

            String refused = "";
            if (t.graph()) {
                try {
                    GraphExecutionPlan plain = ConvGraphPlan.create(cudnn, handle, s, false, t.filterNhwc(), t.workspaceBytes());
                    undo.add(() -> plain.destroy(cudnn));
                    GraphExecutionPlan accumulate = t.residual() == null ? null
                            : ConvGraphPlan.create(cudnn, handle, s, true, t.filterNhwc(), t.workspaceBytes());
                    if (accumulate != null) {
                        undo.add(() -> accumulate.destroy(cudnn));
                    }
                    String choice = what + (t.filterNhwc() ? ", filter KRSC" : "") + ", graph API " + plain.engine()
                            + (accumulate == null ? "" : "; accumulating into y: " + accumulate.engine());
                    return new ConvPlan(t.planKey(), x, w, y, bias, conv, activation, -1, false, plain, accumulate, choice);
                } catch (RuntimeException e) {
                    if (t.filterNhwc()) {
                        throw e; // the legacy filter descriptor refuses KRSC beside NCHW activations
                    }
                    refused = ", graph API refused (" + e.getMessage() + ")";
                }
            }
            AlgorithmChoice.Choice chosen = choose(cudnn, handle, x, w, conv, y, t);
            cudnn.call("cudnnSetConvolutionMathType", what, conv, chosen.mathType());
            boolean fused = t.fuse() && t.bias() != null && t.residual() != null
                    && chosen.algorithm() == CudnnConv.FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
            String choice = what + ", " + chosen.describe() + (fused ? ", bias and residual fused" : "") + refused;
            return new ConvPlan(t.planKey(), x, w, y, bias, conv, activation, chosen.algorithm(), fused, null, null, choice);
        } catch (RuntimeException e) {
            for (Runnable u : undo.reversed()) {
                try {
                    u.run();
                } catch (RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    private static MemorySegment tensor(CudnnConv cudnn, int type, int n, int c, int h, int w, int[] strides, String what,
                                        List<Runnable> undo) {
        MemorySegment d = cudnn.create("cudnnCreateTensorDescriptor", what);
        undo.add(() -> cudnn.call("cudnnDestroyTensorDescriptor", what, d));
        cudnn.call("cudnnSetTensor4dDescriptorEx", what, d, type, n, c, h, w, strides[0], strides[1], strides[2], strides[3]);
        return d;
    }

    /**
     * The algorithm: the fastest that qualifies among those cudnnFindConvolutionForwardAlgorithm timed (it runs
     * each on buffers it allocates, on the handle's stream, so only here, before any capture; once per shape in a
     * JVM), else the first that qualifies in cudnnGetConvolutionForwardAlgorithm_v7's heuristic ranking.
     */
    private static AlgorithmChoice.Choice choose(CudnnConv cudnn, MemorySegment handle, MemorySegment x, MemorySegment w,
                                                 MemorySegment conv, MemorySegment y, CudnnConvolution t) {
        String what = t.shape().toString();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment count = a.allocate(JAVA_INT);
            cudnn.call("cudnnGetConvolutionForwardAlgorithmMaxCount", what, handle, count);
            int max = count.get(JAVA_INT, 0);
            MemorySegment size = a.allocate(JAVA_LONG);
            AlgorithmChoice.WorkspaceSize workspace = (algorithm, math) -> {
                cudnn.call("cudnnSetConvolutionMathType", what, conv, math);
                try {
                    cudnn.call("cudnnGetConvolutionForwardWorkspaceSize", what, handle, x, w, conv, y, algorithm, size);
                } catch (CudnnException refused) {
                    return -1;
                }
                return size.get(JAVA_LONG, 0);
            };
            AlgorithmChoice.Choice measured = MEASURED.get(t.planKey());
            if (measured == null) {
                try {
                    List<AlgorithmChoice.Candidate> timed = candidates(cudnn, "cudnnFindConvolutionForwardAlgorithm", handle, x, w, conv, y,
                            max, what, a);
                    measured = AlgorithmChoice.choose(timed, t.shape().half(), t.workspaceBytes(), workspace);
                } catch (CudnnException findFailed) {
                    measured = null;
                }
                // Find leaves the descriptor's math type at its last candidate's: back to the precision's own
                cudnn.call("cudnnSetConvolutionMathType", what, conv, t.shape().half() ? CudnnConv.TENSOR_OP_MATH : CudnnConv.FMA_MATH);
                if (measured != null) {
                    measured = new AlgorithmChoice.Choice(measured.algorithm(), measured.mathType(), measured.workspaceBytes(), true);
                    MEASURED.put(t.planKey(), measured);
                }
            }
            if (measured != null) {
                return measured;
            }
            List<AlgorithmChoice.Candidate> ranked = candidates(cudnn, "cudnnGetConvolutionForwardAlgorithm_v7", handle, x, w, conv, y, max,
                    what, a);
            AlgorithmChoice.Choice chosen = AlgorithmChoice.choose(ranked, t.shape().half(), t.workspaceBytes(), workspace);
            if (chosen == null) {
                throw new IllegalStateException("cuDNN offers no forward algorithm for " + what + " within " + t.workspaceBytes()
                        + " bytes of workspace; candidates " + ranked);
            }
            return chosen;
        }
    }

    /** The results of {@code query} (cudnnFindConvolutionForwardAlgorithm or _v7, which share a signature), in its order. */
    private static List<AlgorithmChoice.Candidate> candidates(CudnnConv cudnn, String query, MemorySegment handle, MemorySegment x,
                                                             MemorySegment w, MemorySegment conv, MemorySegment y, int max, String what,
                                                             Arena a) {
        MemorySegment perf = a.allocate(CudnnConv.ALGO_PERF, Math.max(1, max));
        MemorySegment returned = a.allocate(JAVA_INT);
        cudnn.call(query, what, handle, x, w, conv, y, max, returned, perf);
        List<AlgorithmChoice.Candidate> candidates = new ArrayList<>();
        for (int i = 0; i < returned.get(JAVA_INT, 0); i++) {
            candidates.add(CudnnConvProvider.candidate(perf, i));
        }
        return candidates;
    }

    String describe() {
        return choice;
    }

    void destroy(CudnnConv cudnn) {
        String what = key().shape().toString();
        cudnn.call("cudnnDestroyTensorDescriptor", what, x);
        cudnn.call("cudnnDestroyTensorDescriptor", what, y);
        cudnn.call("cudnnDestroyTensorDescriptor", what, bias);
        cudnn.call("cudnnDestroyFilterDescriptor", what, w);
        cudnn.call("cudnnDestroyConvolutionDescriptor", what, conv);
        cudnn.call("cudnnDestroyActivationDescriptor", what, activation);
        if (graph != null) {
            graph.destroy(cudnn);
        }
        if (graphAccumulate != null) {
            graphAccumulate.destroy(cudnn);
        }
    }
}
