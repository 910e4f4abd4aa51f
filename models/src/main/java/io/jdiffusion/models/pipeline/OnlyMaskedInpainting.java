package io.jdiffusion.models.pipeline;

import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

import java.util.function.Function;

/**
 * A1111's "Inpaint area: Only masked" ({@code inpaint_full_res} in {@code processing.py}): the {@link CropRegion}
 * around the mask is cut out of the init image and the mask, each brought to the processing size with "resize
 * and fill", inpainted there as a whole picture, and the result brought back to the region's size with "crop and
 * resize" and laid over the original through the (blurred, not binarised) mask, as {@code apply_overlay} does:
 * {@code out = (1 - m) original + m inpainted} inside the region, the original's pixels untouched outside it.
 * The returned image has the init image's size; the latents are those of the processed crop.
 */
final class OnlyMaskedInpainting {
    private OnlyMaskedInpainting() {
    }

    /**
     * Runs {@code request} (whose image input is "Only masked") at {@code width} x {@code height} through
     * {@code inpaint}, which generates a whole-picture inpainting request.
     */
    static GenerationResult run(GenerationRequest request, int width, int height,
                                Function<GenerationRequest, GenerationResult> inpaint) {
        GenerationRequest.ImageInput input = request.image();
        Tensor original = input.initImage();
        Tensor mask = input.mask();
        Shape s = original.shape();
        CropRegion region = CropRegion.around(mask, input.area().padding()).expandedTo(width, height, s.size(3), s.size(2));
        GenerationResult crop;
        try (Tensor imageCut = region.cut(original); Tensor maskCut = region.cut(mask);
             Tensor image = A1111Resize.resizeAndFill(imageCut, width, height);
             Tensor cropMask = A1111Resize.resizeAndFill(maskCut, width, height)) {
            crop = inpaint.apply(request.toBuilder().size(width, height).initImage(image, input.strength()).mask(cropMask)
                    .inpaintArea(GenerationRequest.InpaintArea.WHOLE_PICTURE).build());
        }
        if (crop.image() == null) {
            return crop;
        }
        try (crop; Tensor inpainted = A1111Resize.cropAndResize(crop.image(), region.width(), region.height())) {
            Tensor pasted = pasteBack(original, mask, region, inpainted);
            return new GenerationResult(pasted, crop.latents(), crop.latentHeight(), crop.latentWidth(), crop.seed(),
                    crop.timings(), crop.warnings());
        }
    }

    /** The original with {@code inpainted} (the region's size) blended in over the region through the mask. */
    static Tensor pasteBack(Tensor original, Tensor mask, CropRegion region, Tensor inpainted) {
        Shape s = original.shape();
        int channels = s.size(1);
        int h = s.size(2);
        int w = s.size(3);
        float[] out = original.toFloatArray();
        int rw = region.width();
        int rh = region.height();
        for (int y = region.y1(); y < region.y2(); y++) {
            for (int x = region.x1(); x < region.x2(); x++) {
                float m = mask.getFloat((long) y * w + x);
                if (m == 0) {
                    continue;
                }
                for (int c = 0; c < channels; c++) {
                    int i = (c * h + y) * w + x;
                    float painted = inpainted.getFloat(((long) c * rh + (y - region.y1())) * rw + (x - region.x1()));
                    out[i] = (1 - m) * out[i] + m * painted;
                }
            }
        }
        return Tensor.ofFloats(s, out);
    }
}
