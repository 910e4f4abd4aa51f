package io.jdiffusion.models.conditioning;

/**
 * What a {@link TextConditioner} encodes for one request: the prompt, the negative prompt (used only
 * with classifier-free guidance, as the first row of the batch), and the resolved image size in pixels,
 * which size-conditioned models (SDXL) also condition on, with the {@code sizeConditioning} (SDXL's original
 * size, crop and target size; null means diffusers' defaults). Models without it ignore the size.
 */
public record ConditioningInput(String prompt, String negativePrompt, boolean guided, int width, int height,
                                SizeConditioning sizeConditioning) {
    /** With diffusers' default size conditioning. */
    public ConditioningInput(String prompt, String negativePrompt, boolean guided, int width, int height) {
        this(prompt, negativePrompt, guided, width, height, SizeConditioning.DEFAULT);
    }

    public ConditioningInput {
        prompt = prompt == null ? "" : prompt;
        negativePrompt = negativePrompt == null ? "" : negativePrompt;
        sizeConditioning = sizeConditioning == null ? SizeConditioning.DEFAULT : sizeConditioning;
        if (width <= 0 || height <= 0) {
            throw new IllegalArgumentException("conditioning needs the resolved image size, got " + width + "x" + height);
        }
    }
}
