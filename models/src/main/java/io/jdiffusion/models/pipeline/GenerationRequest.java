package io.jdiffusion.models.pipeline;

import io.jdiffusion.core.Tensor;

/**
 * What to generate. {@code width}/{@code height} of 0 mean the model's default size. For image-to-image,
 * {@code initImage} is [1, 3, H, W] with values in [0, 1] at the requested size, and {@code strength} in (0, 1]
 * says how much of the schedule to run. {@code initLatents}, when given, replaces the seeded initial noise
 * (as diffusers' {@code latents=} argument; multiplied by the scheduler's init_noise_sigma).
 */
public record GenerationRequest(String prompt, String negativePrompt, long seed, String sampler, boolean karras,
                                int steps, float guidanceScale, int width, int height, float ddimEta,
                                Tensor initImage, float strength, float[] initLatents) {
    public static final String DEFAULT_SAMPLER = "pndm";
    public static final int DEFAULT_STEPS = 20;
    public static final float DEFAULT_GUIDANCE = 7.5f;

    public GenerationRequest {
        prompt = prompt == null ? "" : prompt;
        negativePrompt = negativePrompt == null ? "" : negativePrompt;
        sampler = sampler == null ? DEFAULT_SAMPLER : sampler;
        if (steps < 1) {
            throw new IllegalArgumentException("steps must be at least 1, got " + steps);
        }
        if (width < 0 || height < 0) {
            throw new IllegalArgumentException("size must be positive, got " + width + "x" + height);
        }
        if (initImage != null && !(strength > 0 && strength <= 1)) {
            throw new IllegalArgumentException("strength must be in (0, 1], got " + strength);
        }
        if (!Float.isFinite(guidanceScale)) {
            throw new IllegalArgumentException("guidance scale must be a finite number, got " + guidanceScale);
        }
    }

    /** A text-to-image request with diffusers' defaults for everything but the prompt and seed. */
    public static GenerationRequest of(String prompt, long seed) {
        return new GenerationRequest(prompt, "", seed, DEFAULT_SAMPLER, false, DEFAULT_STEPS, DEFAULT_GUIDANCE,
                0, 0, 0f, null, 0.8f, null);
    }

    public GenerationRequest withSampler(String name) {
        return new GenerationRequest(prompt, negativePrompt, seed, name, karras, steps, guidanceScale, width, height,
                ddimEta, initImage, strength, initLatents);
    }

    public GenerationRequest withSize(int w, int h) {
        return new GenerationRequest(prompt, negativePrompt, seed, sampler, karras, steps, guidanceScale, w, h,
                ddimEta, initImage, strength, initLatents);
    }

    public GenerationRequest withSeed(long s) {
        return new GenerationRequest(prompt, negativePrompt, s, sampler, karras, steps, guidanceScale, width, height,
                ddimEta, initImage, strength, initLatents);
    }

    public GenerationRequest withGuidance(float g) {
        return new GenerationRequest(prompt, negativePrompt, seed, sampler, karras, steps, g, width, height,
                ddimEta, initImage, strength, initLatents);
    }

    public GenerationRequest withSteps(int n) {
        return new GenerationRequest(prompt, negativePrompt, seed, sampler, karras, n, guidanceScale, width, height,
                ddimEta, initImage, strength, initLatents);
    }

    public GenerationRequest withInitLatents(float[] latents) {
        return new GenerationRequest(prompt, negativePrompt, seed, sampler, karras, steps, guidanceScale, width, height,
                ddimEta, initImage, strength, latents);
    }

    public GenerationRequest withInitImage(Tensor image, float s) {
        return new GenerationRequest(prompt, negativePrompt, seed, sampler, karras, steps, guidanceScale, width, height,
                ddimEta, image, s, initLatents);
    }

    public boolean usesGuidance() {
        return guidanceScale > 1;
    }
}
