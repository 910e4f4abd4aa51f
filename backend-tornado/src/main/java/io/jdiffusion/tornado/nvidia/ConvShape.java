package io.jdiffusion.tornado.nvidia;

/**
 * One convolution as cuDNN's legacy API describes it: x [n, c, h, w] and y [n, k, outH, outW] packed NCHW, the
 * filter [k, c, r, s] (PyTorch's layout, cuDNN's KCRS), symmetric zero padding, one stride and one dilation for
 * both axes, no groups; elements F16 ({@code half}: F32 accumulation on tensor cores) or F32 (FMA only, no TF32).
 * Everything cuDNN's descriptors and its algorithm choice depend on, so the provider plans once per shape.
 */
public record ConvShape(int n, int c, int h, int w, int k, int r, int s, int padH, int padW, int stride, int dilation, boolean half) {
    public ConvShape {
        if (n < 1 || c < 1 || h < 1 || w < 1 || k < 1 || r < 1 || s < 1 || stride < 1 || dilation < 1 || padH < 0 || padW < 0) {
            throw new IllegalArgumentException("not a convolution: " + describe(n, c, h, w, k, r, s, padH, padW, stride, dilation));
        }
        int outH = outSide(h, padH, r, stride, dilation);
        int outW = outSide(w, padW, s, stride, dilation);
        if (outH < 1 || outW < 1) {
            throw new IllegalArgumentException("the filter is larger than the padded image: "
                    + describe(n, c, h, w, k, r, s, padH, padW, stride, dilation));
        }
        for (long count : new long[]{(long) n * c * h * w, (long) n * k * outH * outW, (long) k * c * r * s}) {
            if (count > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("cuDNN's 4-d descriptors take int strides; a tensor of " + count + " elements is too large: "
                        + describe(n, c, h, w, k, r, s, padH, padW, stride, dilation));
            }
        }
    }

    /** cuDNN's output side (cudnnGetConvolution2dForwardOutputDim): 1 + (side + 2 pad - ((filter - 1) dilation + 1)) / stride. */
    static int outSide(int side, int pad, int filter, int stride, int dilation) {
        int span = (filter - 1) * dilation + 1;
        int padded = side + 2 * pad - span;
        return padded < 0 ? 0 : padded / stride + 1;
    }

    public int outH() {
        return outSide(h, padH, r, stride, dilation);
    }

    public int outW() {
        return outSide(w, padW, s, stride, dilation);
    }

    public int elementBytes() {
        return half ? 2 : 4;
    }

    /** Packed NCHW strides of x, in elements: n, c, h, w. */
    public int[] xStrides() {
        return new int[]{c * h * w, h * w, w, 1};
    }

    /** Packed NCHW strides of y (and of a residual, which has y's layout), in elements. */
    public int[] yStrides() {
        return new int[]{k * outH() * outW(), outH() * outW(), outW(), 1};
    }

    public long xElements() {
        return (long) n * c * h * w;
    }

    public long yElements() {
        return (long) n * k * outH() * outW();
    }

    public long filterElements() {
        return (long) k * c * r * s;
    }

    @Override
    public String toString() {
        return describe(n, c, h, w, k, r, s, padH, padW, stride, dilation) + (half ? " F16" : " F32");
    }

    private static String describe(int n, int c, int h, int w, int k, int r, int s, int padH, int padW, int stride, int dilation) {
        return "x " + n + "x" + c + "x" + h + "x" + w + ", filter " + k + "x" + c + "x" + r + "x" + s + ", pad " + padH + "," + padW
                + ", stride " + stride + (dilation == 1 ? "" : ", dilation " + dilation);
    }
}
