package io.jdiffusion.models.pipeline;

import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

/**
 * Resizing as A1111's {@code images.resize_image} does it without an upscaler: PIL's LANCZOS filter
 * ({@code Image.resize(size, LANCZOS, box)}: a separable windowed sinc of support 3, widened by the scale
 * when shrinking, horizontal pass first), computed in double on float pixels and clipped to [0, 1] after each
 * pass (PIL clips 8-bit pixels the same way; it also rounds to 8 bits, which this does not). Tensors are
 * [1, C, H, W] in [0, 1].
 */
final class A1111Resize {
    private static final double LANCZOS_SUPPORT = 3.0;

    private A1111Resize() {
    }

    /** {@code src} resized to {@code width} x {@code height}. */
    static Tensor lanczos(Tensor src, int width, int height) {
        Shape s = src.shape();
        return lanczos(src, 0, 0, s.size(3), s.size(2), width, height);
    }

    /**
     * The box {@code [bx0, bx1) x [by0, by1)} of {@code src} resized to {@code width} x {@code height}, as PIL's
     * {@code resize(..., box=...)}. A box of zero width or height samples the filter around that edge (A1111's
     * fills use it to extend the outermost rows or columns).
     */
    static Tensor lanczos(Tensor src, double bx0, double by0, double bx1, double by1, int width, int height) {
        Shape s = src.shape();
        int channels = s.size(1);
        int inH = s.size(2);
        int inW = s.size(3);
        float[] pixels = src.toFloatArray();
        int curW = inW;
        if (width != inW || bx0 != 0 || bx1 != inW) {
            pixels = pass(pixels, channels, inH, inW, bx0, bx1, width, true);
            curW = width;
        }
        if (height != inH || by0 != 0 || by1 != inH) {
            pixels = pass(pixels, channels, inH, curW, by0, by1, height, false);
        }
        return Tensor.ofFloats(Shape.of(1, channels, height, width), pixels);
    }

    /** One pass of PIL's {@code ImagingResampleHorizontal}/{@code Vertical} with its {@code precompute_coeffs}. */
    private static float[] pass(float[] in, int channels, int h, int w, double in0, double in1, int outSize, boolean horizontal) {
        int inSize = horizontal ? w : h;
        double scale = (in1 - in0) / outSize;
        double filterScale = Math.max(scale, 1.0);
        double support = LANCZOS_SUPPORT * filterScale;
        int[] starts = new int[outSize];
        double[][] weights = new double[outSize][];
        for (int o = 0; o < outSize; o++) {
            double center = in0 + (o + 0.5) * scale;
            int min = Math.max((int) (center - support + 0.5), 0);
            int count = Math.min((int) (center + support + 0.5), inSize) - min;
            double[] k = new double[Math.max(count, 0)];
            double total = 0;
            for (int i = 0; i < k.length; i++) {
                k[i] = lanczos((i + min - center + 0.5) / filterScale);
                total += k[i];
            }
            for (int i = 0; i < k.length && total != 0; i++) {
                k[i] /= total;
            }
            starts[o] = min;
            weights[o] = k;
        }
        int outW = horizontal ? outSize : w;
        int outH = horizontal ? h : outSize;
        float[] out = new float[channels * outH * outW];
        for (int c = 0; c < channels; c++) {
            for (int y = 0; y < outH; y++) {
                for (int x = 0; x < outW; x++) {
                    int o = horizontal ? x : y;
                    double[] k = weights[o];
                    double acc = 0;
                    for (int i = 0; i < k.length; i++) {
                        int sx = horizontal ? starts[o] + i : x;
                        int sy = horizontal ? y : starts[o] + i;
                        acc += k[i] * in[(c * h + sy) * w + sx];
                    }
                    out[(c * outH + y) * outW + x] = (float) Math.min(1.0, Math.max(0.0, acc));
                }
            }
        }
        return out;
    }

    /** PIL's {@code lanczos_filter}: {@code sinc(x) sinc(x / 3)} on [-3, 3). */
    private static double lanczos(double x) {
        return -LANCZOS_SUPPORT <= x && x < LANCZOS_SUPPORT ? sinc(x) * sinc(x / LANCZOS_SUPPORT) : 0.0;
    }

    private static double sinc(double x) {
        if (x == 0.0) {
            return 1.0;
        }
        double px = x * Math.PI;
        return Math.sin(px) / px;
    }

    /**
     * A1111's resize mode 2, "Resize and fill": {@code src} scaled to fit inside {@code width} x {@code height},
     * centred, and the bands left over filled by stretching the outermost rows (or columns) outwards.
     */
    static Tensor resizeAndFill(Tensor src, int width, int height) {
        int srcH = src.shape().size(2);
        int srcW = src.shape().size(3);
        double ratio = (double) width / height;
        double srcRatio = (double) srcW / srcH;
        int fitW = ratio < srcRatio ? width : srcW * height / srcH;
        int fitH = ratio >= srcRatio ? height : srcH * width / srcW;
        int channels = src.shape().size(1);
        float[] out = new float[channels * height * width];
        try (Tensor resized = lanczos(src, fitW, fitH)) {
            paste(out, width, height, resized, width / 2 - fitW / 2, height / 2 - fitH / 2);
            if (ratio < srcRatio) {
                int fill = height / 2 - fitH / 2;
                if (fill > 0) {
                    try (Tensor top = lanczos(resized, 0, 0, width, 0, width, fill);
                         Tensor bottom = lanczos(resized, 0, fitH, width, fitH, width, fill)) {
                        paste(out, width, height, top, 0, 0);
                        paste(out, width, height, bottom, 0, fill + fitH);
                    }
                }
            } else if (ratio > srcRatio) {
                int fill = width / 2 - fitW / 2;
                if (fill > 0) {
                    try (Tensor left = lanczos(resized, 0, 0, 0, height, fill, height);
                         Tensor right = lanczos(resized, fitW, 0, fitW, height, fill, height)) {
                        paste(out, width, height, left, 0, 0);
                        paste(out, width, height, right, fill + fitW, 0);
                    }
                }
            }
        }
        return Tensor.ofFloats(Shape.of(1, channels, height, width), out);
    }

    /**
     * A1111's resize mode 1, "Crop and resize": {@code src} scaled to cover {@code width} x {@code height}, centred,
     * and what sticks out cut off.
     */
    static Tensor cropAndResize(Tensor src, int width, int height) {
        int srcH = src.shape().size(2);
        int srcW = src.shape().size(3);
        double ratio = (double) width / height;
        double srcRatio = (double) srcW / srcH;
        int coverW = ratio > srcRatio ? width : srcW * height / srcH;
        int coverH = ratio <= srcRatio ? height : srcH * width / srcW;
        int channels = src.shape().size(1);
        float[] out = new float[channels * height * width];
        try (Tensor resized = lanczos(src, coverW, coverH)) {
            paste(out, width, height, resized, width / 2 - coverW / 2, height / 2 - coverH / 2);
        }
        return Tensor.ofFloats(Shape.of(1, channels, height, width), out);
    }

    /** PIL's {@code paste} of {@code piece} with its top-left corner at (x0, y0); what falls outside is dropped. */
    private static void paste(float[] dst, int dstW, int dstH, Tensor piece, int x0, int y0) {
        int channels = piece.shape().size(1);
        int h = piece.shape().size(2);
        int w = piece.shape().size(3);
        float[] src = piece.toFloatArray();
        for (int c = 0; c < channels; c++) {
            for (int y = Math.max(0, -y0); y < h && y + y0 < dstH; y++) {
                for (int x = Math.max(0, -x0); x < w && x + x0 < dstW; x++) {
                    dst[(c * dstH + y + y0) * dstW + x + x0] = src[(c * h + y) * w + x];
                }
            }
        }
    }
}
