package io.jdiffusion.models.conditioning;

import io.jdiffusion.models.pipeline.NetworkRunner;

/**
 * Turns prompts into what the UNet is conditioned on. A conditioner owns its tokenizer(s) and text
 * encoder(s); how prompts are read (weighting, long-prompt chunks, clip skip, several encoders) is its own
 * business, so the pipeline has no per-family branches.
 */
public interface TextConditioner {
    /**
     * Encodes {@code [negative, prompt]} (or only {@code prompt} when {@code input.guided()} is false) on
     * {@code runner}'s backend; the caller closes the result.
     *
     * @throws io.jdiffusion.models.config.ModelLoadException when the model has no tokenizer (a single-file
     *                                                        checkpoint loaded without one), saying what to supply
     */
    Conditioning encode(ConditioningInput input, NetworkRunner runner);

    /** Width of the context's last dimension (the UNet's cross-attention dimension). */
    int contextDim();
}
