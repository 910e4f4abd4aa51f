package io.jdiffusion.server.api;

import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.pipeline.GenerationRequest;
import io.jdiffusion.models.pipeline.ImageFiles;
import io.jdiffusion.models.pipeline.BufferedImages;
import io.jdiffusion.models.pipeline.Images;

import java.awt.image.BufferedImage;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A1111's img2img inpainting fields ({@code mask}, {@code mask_blur}/{@code mask_blur_x}/{@code mask_blur_y},
 * {@code inpainting_mask_invert}, {@code inpainting_fill}, {@code inpaint_full_res},
 * {@code inpaint_full_res_padding}) to the pipeline's mask [1, 1, H, W], and the infotext pairs A1111 writes
 * for them ("Mask blur", "Mask mode").
 *
 * <p>The mask is read as A1111's {@code create_binary_mask} reads it: an RGBA image whose alpha is not all
 * opaque is a mask by its alpha (above 128 repaints), any other image by its luma; inverted when asked, then
 * blurred with a Gaussian of {@code mask_blur} pixels (A1111's default 4), and cut at 50% by the pipeline.
 * The fields are type-checked whether or not a mask is given, as pydantic checks them.
 */
final class InpaintingFields {
    /** A1111's "original": the masked part starts from the init image; the one fill the pipeline has. */
    static final int FILL_ORIGINAL = 1;
    /** A1111's UI slider ends here; a larger sigma makes the blur's cost grow with it. */
    static final int MAX_BLUR = 64;
    private static final String[] FILLS = {"fill", "original", "latent noise", "latent nothing"};

    /** The mask tensor (the caller owns it) and the infotext pairs it adds. */
    record Mask(Tensor tensor, Map<String, Object> infotext) {
    }

    private InpaintingFields() {
    }

    /** The fields read and checked, the mask still encoded (null: no mask, and the whole picture). */
    record Options(String encodedMask, int blur, boolean invert, GenerationRequest.InpaintArea area) {
    }

    /** Reads and checks the fields; nothing is decoded yet, so a bad field is found before any image work. */
    static Options options(JsonFields f) {
        int blurX = f.integer("mask_blur_x", 4);
        int blurY = f.integer("mask_blur_y", 4);
        String blurField = "mask_blur_x";
        if (f.has("mask_blur")) {
            blurField = "mask_blur";
            blurX = f.integer("mask_blur", 4);
            blurY = blurX;
        }
        // Left out, the fill is the one jdiffusion has (A1111's API default, 0 "fill", is not implemented).
        int fill = f.integer("inpainting_fill", FILL_ORIGINAL);
        // A1111's default: only the masked area, at full resolution.
        boolean onlyMasked = f.bool("inpaint_full_res", true);
        int padding = f.integer("inpaint_full_res_padding", 0);
        int invert = f.integer("inpainting_mask_invert", 0);
        String encoded = f.string("mask", null);
        if (encoded == null) {
            return new Options(null, blurX, false, GenerationRequest.InpaintArea.WHOLE_PICTURE);
        }
        if (blurX != blurY) {
            throw new InvalidRequestException("mask_blur_y", "a blur of " + blurX + " across and " + blurY
                    + " down is not implemented; give mask_blur (the same both ways)");
        }
        if (blurX < 0 || blurX > MAX_BLUR) {
            throw new InvalidRequestException(blurField, "must be in [0, " + MAX_BLUR + "] pixels, got " + blurX);
        }
        if (fill != FILL_ORIGINAL) {
            String name = fill >= 0 && fill < FILLS.length ? " (" + FILLS[fill] + ")" : "";
            throw new InvalidRequestException("inpainting_fill", "only 1 (original: the masked part starts from the init"
                    + " image) is implemented, got " + fill + name);
        }
        if (padding < 0) {
            throw new InvalidRequestException("inpaint_full_res_padding", "must be 0 or more pixels, got " + padding);
        }
        if (invert != 0 && invert != 1) {
            throw new InvalidRequestException("inpainting_mask_invert", "must be 0 (inpaint masked) or 1 (inpaint not"
                    + " masked), got " + invert);
        }
        // As in A1111, the padding is ignored for the whole picture (its UI sends 32 either way).
        return new Options(encoded, blurX, invert == 1, onlyMasked
                ? GenerationRequest.InpaintArea.onlyMasked(padding) : GenerationRequest.InpaintArea.WHOLE_PICTURE);
    }

    /** The mask asked for, resized to {@code width x height}; null when the body has none. */
    static Mask decode(Options options, RequestLimits limits, int width, int height) {
        if (options.encodedMask() == null) {
            return null;
        }
        ImageFiles.Rgb image = Base64Images.decode("mask", options.encodedMask(), limits);
        Tensor mask = BufferedImages.maskFromBufferedImage(alphaMask(image), width, height);
        if (options.invert()) {
            float[] v = mask.toFloatArray();
            for (int i = 0; i < v.length; i++) {
                mask.setFloat(i, 1 - v[i]);
            }
        }
        Images.gaussianBlur(mask, options.blur());
        Map<String, Object> infotext = new LinkedHashMap<>();
        if (options.invert()) {
            infotext.put("Mask mode", "Inpaint not masked");
        }
        if (options.blur() > 0) {
            infotext.put("Mask blur", options.blur());
        }
        return new Mask(mask, infotext);
    }

    /**
     * A1111's rule ({@code create_binary_mask}): an RGBA image whose alpha is not all opaque is a mask by its
     * alpha, cut at 128; any other image by its luma.
     */
    private static BufferedImage alphaMask(ImageFiles.Rgb image) {
        byte[] alpha = image.alpha();
        boolean transparent = false;
        for (int i = 0; alpha != null && i < alpha.length && !transparent; i++) {
            transparent = alpha[i] != (byte) 255;
        }
        if (!transparent) {
            return image.toBufferedImage();
        }
        BufferedImage grey = new BufferedImage(image.width(), image.height(), BufferedImage.TYPE_BYTE_GRAY);
        byte[] cut = new byte[alpha.length];
        for (int i = 0; i < alpha.length; i++) {
            cut[i] = (alpha[i] & 0xFF) > 128 ? (byte) 255 : 0;
        }
        grey.getRaster().setDataElements(0, 0, image.width(), image.height(), cut);
        return grey;
    }
}
