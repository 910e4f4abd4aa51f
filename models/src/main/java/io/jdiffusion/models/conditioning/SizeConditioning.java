package io.jdiffusion.models.conditioning;

/**
 * SDXL's micro-conditioning: the size the training image had, where it was cropped, and the size asked for,
 * which the UNet receives as six time ids. Zeros mean diffusers' defaults: original and target size = the
 * image size, crop (0, 0).
 */
public record SizeConditioning(int originalWidth, int originalHeight, int cropTop, int cropLeft, int targetWidth,
                               int targetHeight) {
    /** diffusers' defaults: original and target size = the generated size, no crop. */
    public static final SizeConditioning DEFAULT = new SizeConditioning(0, 0, 0, 0, 0, 0);

    public SizeConditioning {
        if (originalWidth < 0 || originalHeight < 0 || cropTop < 0 || cropLeft < 0 || targetWidth < 0 || targetHeight < 0) {
            throw new IllegalArgumentException("size conditioning must not be negative: original " + originalWidth + "x"
                    + originalHeight + ", crop top-left " + cropTop + "," + cropLeft + ", target " + targetWidth + "x" + targetHeight);
        }
        if ((originalWidth == 0) != (originalHeight == 0) || (targetWidth == 0) != (targetHeight == 0)) {
            throw new IllegalArgumentException("give both width and height of a conditioning size, got original "
                    + originalWidth + "x" + originalHeight + ", target " + targetWidth + "x" + targetHeight);
        }
    }

    /**
     * diffusers' {@code add_time_ids} for an image of {@code width} x {@code height}: (original h, original w,
     * crop top, crop left, target h, target w), heights first.
     */
    public float[] timeIds(int width, int height) {
        return new float[]{
                originalHeight == 0 ? height : originalHeight, originalWidth == 0 ? width : originalWidth,
                cropTop, cropLeft,
                targetHeight == 0 ? height : targetHeight, targetWidth == 0 ? width : targetWidth};
    }
}
