package io.jdiffusion.tornado.nvidia;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import static io.jdiffusion.tornado.nvidia.GraphDescriptors.TYPE_DATA_TYPE;

/**
 * The execution plan of cuDNN's graph API ({@link GraphExecutionPlan}) for one F16 convolution y = conv(x, w) (+ y,
 * where {@code accumulate}): tensors x, w, y and one convolution operation.
 *
 * <p>Why: the legacy cudnnConvolutionForward ran five of SD 1.5's UNet layers on cuDNN's SIMT implicit GEMM on an
 * H200, 2.6 ms of an 18.4 ms call, where PyTorch's graph-API call of the same shapes runs the sm90 tensor-core
 * kernels (docs/PERFORMANCE.md); the operands' alignment was ruled out (scripts/cudnn_alignment_probe.py). The graph
 * API also describes tensors by strides, so a filter may lie KRSC ({@code filterNhwc}) beside NCHW activations, which
 * the legacy filter descriptor refuses.
 */
final class ConvGraphPlan {
    // cudnn_graph.h: cudnnBackendDescriptorType_t, cudnnBackendAttributeType_t, cudnnBackendAttributeName_t
    private static final int CONVOLUTION_DESCRIPTOR = 1;
    private static final int OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR = 10;
    private static final int TYPE_CONVOLUTION_MODE = 7;
    private static final int CONVOLUTION_COMP_TYPE = 100;
    private static final int CONVOLUTION_CONV_MODE = 101;
    private static final int CONVOLUTION_DILATIONS = 102;
    private static final int CONVOLUTION_FILTER_STRIDES = 103;
    private static final int CONVOLUTION_POST_PADDINGS = 104;
    private static final int CONVOLUTION_PRE_PADDINGS = 105;
    private static final int CONVOLUTION_SPATIAL_DIMS = 106;
    private static final int CONV_FWD_ALPHA = 700;
    private static final int CONV_FWD_BETA = 701;
    private static final int CONV_FWD_CONV_DESC = 702;
    private static final int CONV_FWD_W = 703;
    private static final int CONV_FWD_X = 704;
    private static final int CONV_FWD_Y = 705;
    /** The operands' unique ids in the graph and in every variant pack, in this order. */
    private static final long[] UIDS = {'x', 'w', 'y'};

    private ConvGraphPlan() {
    }

    /**
     * The plan for {@code s} (F16) on {@code handle}, {@code accumulate} adding the convolution into y (beta 1), the
     * filter KCRS or ({@code filterNhwc}) KRSC, executed on x, w, y in this order; fails, naming what cuDNN refused,
     * where no engine qualifies.
     */
    static GraphExecutionPlan create(CudnnConv cudnn, MemorySegment handle, ConvShape s, boolean accumulate, boolean filterNhwc,
                                long workspaceLimit) {
        if (!s.half()) {
            throw new IllegalArgumentException("the graph-API path is F16 only (F32 stays on FMA math without TF32): " + s);
        }
        String what = s + (filterNhwc ? ", filter KRSC" : "") + (accumulate ? ", accumulating" : "") + " (graph API)";
        return GraphExecutionPlan.create(cudnn, handle, what, UIDS, workspaceLimit, d -> {
            int r = s.r();
            int sw = s.s();
            int c = s.c();
            long[] wStrides = filterNhwc ? new long[]{(long) r * sw * c, 1, (long) sw * c, c} : new long[]{(long) c * r * sw, (long) r * sw, sw, 1};
            MemorySegment x = d.halfTensor(UIDS[0], new long[]{s.n(), c, s.h(), s.w()}, Arrays.stream(s.xStrides()).asLongStream().toArray());
            MemorySegment w = d.halfTensor(UIDS[1], new long[]{s.k(), c, r, sw}, wStrides);
            MemorySegment y = d.halfTensor(UIDS[2], new long[]{s.n(), s.k(), s.outH(), s.outW()}, Arrays.stream(s.yStrides()).asLongStream().toArray());

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
            return op;
        });
    }
}
