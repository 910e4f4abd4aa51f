package io.jdiffusion.models.pipeline;

import io.jdiffusion.core.Tensor;

import java.util.List;

/**
 * One generated image: {@code image} [1, 3, H, W] in [0, 1] (the caller closes it; null when the request
 * asked for latents only), the final latents
 * [1, C, h, w] as diffusers returns them with output_type="latent" (before division by the scaling factor),
 * the seed used, timings, and warnings (e.g. a prompt truncated to 77 tokens).
 */
public record GenerationResult(Tensor image, float[] latents, int latentHeight, int latentWidth, long seed,
                               StageTimings timings, List<String> warnings) implements AutoCloseable {
    @Override
    public void close() {
        if (image != null) {
            image.close();
        }
    }
}
