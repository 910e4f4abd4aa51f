package io.jdiffusion.models.pipeline;

import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

/**
 * The rectangle {@code [x1, x2) x [y1, y2)} of an image that A1111's "Inpaint area: Only masked" repaints:
 * the bounding box of the mask's non-zero pixels plus padding ({@code masking.get_crop_region_v2}), then
 * grown to the processing size's aspect ratio ({@code masking.expand_crop_region}), in A1111's integer
 * arithmetic. A mask pixel counts when it is non-zero as an 8-bit grey value, as PIL's {@code getbbox} sees
 * A1111's mask: {@code round(255 v) > 0}.
 */
record CropRegion(int x1, int y1, int x2, int y2) {

    CropRegion {
        if (x1 < 0 || y1 < 0 || x2 <= x1 || y2 <= y1) {
            throw new IllegalArgumentException("empty or negative crop region " + x1 + "," + y1 + " - " + x2 + "," + y2);
        }
    }

    int width() {
        return x2 - x1;
    }

    int height() {
        return y2 - y1;
    }

    /**
     * The bounding box of {@code mask}'s non-zero pixels ([1, 1, H, W] in [0, 1]), widened by {@code padding}
     * pixels on every side and clipped to the image.
     *
     * @throws IllegalArgumentException when no pixel of the mask is non-zero: there is nothing to repaint
     */
    static CropRegion around(Tensor mask, int padding) {
        if (padding < 0) {
            throw new IllegalArgumentException("the masked area padding must be 0 or more pixels, got " + padding);
        }
        Shape s = mask.shape();
        int h = s.size(2);
        int w = s.size(3);
        int left = w;
        int top = h;
        int right = -1;
        int bottom = -1;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                if (Images.marked(mask.getFloat((long) y * w + x))) {
                    left = Math.min(left, x);
                    right = Math.max(right, x);
                    top = Math.min(top, y);
                    bottom = Math.max(bottom, y);
                }
            }
        }
        if (right < 0) {
            throw new IllegalArgumentException("the mask has no white pixels: \"Inpaint area: Only masked\" has nothing to "
                    + "repaint (paint the area to change white)");
        }
        return new CropRegion(Math.max(left - padding, 0), Math.max(top - padding, 0), Math.min(right + 1 + padding, w),
                Math.min(bottom + 1 + padding, h));
    }

    /**
     * This region grown to the aspect ratio of a {@code processingWidth} x {@code processingHeight} image, centred,
     * shifted back inside an {@code imageWidth} x {@code imageHeight} image and clipped to it, step for step as
     * A1111's {@code expand_crop_region} (so a region that cannot grow enough keeps a different ratio).
     */
    CropRegion expandedTo(int processingWidth, int processingHeight, int imageWidth, int imageHeight) {
        double ratioCrop = (double) width() / height();
        double ratioProcessing = (double) processingWidth / processingHeight;
        if (ratioCrop > ratioProcessing) {
            int[] ys = grow(y1, y2, (int) (width() / ratioProcessing - height()), imageHeight);
            return new CropRegion(x1, ys[0], x2, ys[1]);
        }
        int[] xs = grow(x1, x2, (int) (height() * ratioProcessing - width()), imageWidth);
        return new CropRegion(xs[0], y1, xs[1], y2);
    }

    /**
     * One axis of {@code expand_crop_region}: {@code [lo, hi)} widened by {@code extra} pixels (half, rounded down,
     * before it), shifted back below {@code limit}, then above 0, then clipped to {@code limit}.
     */
    private static int[] grow(int lo, int hi, int extra, int limit) {
        lo -= Math.floorDiv(extra, 2);
        hi += extra - Math.floorDiv(extra, 2);
        if (hi >= limit) {
            int over = hi - limit;
            hi -= over;
            lo -= over;
        }
        if (lo < 0) {
            hi -= lo;
            lo = 0;
        }
        return new int[]{lo, Math.min(hi, limit)};
    }

    /** The region's pixels of {@code image} [1, C, H, W], as a new [1, C, height, width] tensor. */
    Tensor cut(Tensor image) {
        Shape s = image.shape();
        int channels = s.size(1);
        int h = s.size(2);
        int w = s.size(3);
        if (x2 > w || y2 > h) {
            throw new IllegalArgumentException("crop region " + this + " lies outside the " + w + "x" + h + " image");
        }
        float[] out = new float[channels * width() * height()];
        int i = 0;
        for (int c = 0; c < channels; c++) {
            for (int y = y1; y < y2; y++) {
                for (int x = x1; x < x2; x++) {
                    out[i++] = image.getFloat(((long) c * h + y) * w + x);
                }
            }
        }
        return Tensor.ofFloats(Shape.of(1, channels, height(), width()), out);
    }
}
