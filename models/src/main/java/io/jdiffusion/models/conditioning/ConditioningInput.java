package io.jdiffusion.models.conditioning;

/**
 * What a {@link TextConditioner} encodes for one request: the prompt, the negative prompt (used only
 * with classifier-free guidance, as the first row of the batch), and the resolved image size in pixels,
 * which size-conditioned models (SDXL) also condition on.
 */
public record ConditioningInput(String prompt, String negativePrompt, boolean guided, int width, int height) {
    public ConditioningInput {
        prompt = prompt == null ? "" : prompt;
        negativePrompt = negativePrompt == null ? "" : negativePrompt;
        if (width <= 0 || height <= 0) {
            throw new IllegalArgumentException("conditioning needs the resolved image size, got " + width + "x" + height);
        }
    }
}
