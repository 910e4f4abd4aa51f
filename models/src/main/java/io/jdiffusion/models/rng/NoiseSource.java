package io.jdiffusion.models.rng;

/**
 * Where a stochastic sampler takes its per-step Gaussian noise from. Generation passes a
 * {@link TorchGenerator} (diffusers' draws, bit for bit); tests pass scripted noise to follow a chain's
 * mean and variance exactly.
 */
@FunctionalInterface
public interface NoiseSource {
    /** {@code n} standard normal values, as {@code torch.randn(n)} draws them from this source. */
    float[] randn(int n);
}
