package io.jdiffusion.models.scheduler;

import io.jdiffusion.models.rng.NoiseSource;

/**
 * diffusers' {@code EulerAncestralDiscreteScheduler} ("Euler a"): an Euler step down to
 * {@code sigma_down}, then fresh noise of size {@code sigma_up}, with
 * {@code sigma_up = sqrt(sigma_next^2 (sigma^2 - sigma_next^2) / sigma^2)} and
 * {@code sigma_down = sqrt(sigma_next^2 - sigma_up^2)}. Every step, the last included, draws
 * {@code randn(sample.length)} from the generator, so one generator seeded as in diffusers reproduces its
 * chain. diffusers' class has no Karras or exponential option; here {@code use_karras_sigmas} and
 * {@code use_exponential_sigmas} apply the same sigmas as Euler.
 */
final class EulerAncestralScheduler extends SigmaSpaceScheduler {

    EulerAncestralScheduler(SchedulerConfig config) {
        super("euler_a", config, NoiseSchedule.ZeroSnr.RESCALE_AND_CLAMP, false, false,
                PredictionType.EPSILON, PredictionType.V_PREDICTION);
    }

    @Override
    public float[] step(float[] modelOutput, int callIndex, float[] sample, NoiseSource noise) {
        checkCall(callIndex, sample, modelOutput);
        float sigma = sigmas[callIndex];
        float[] x0 = prediction.denoisedVe(sample, modelOutput, sigma);
        AncestralStep split = AncestralStep.of(sigma, sigmas[callIndex + 1]);
        float sigmaUp = split.up();
        float sigmaDown = split.down();
        float[] d = derivative(sample, x0, sigma);
        float dt = sigmaDown - sigma;
        float[] z = drawNoise(noise, sample.length);
        float[] prev = new float[sample.length];
        for (int i = 0; i < prev.length; i++) {
            prev[i] = (sample[i] + d[i] * dt) + z[i] * sigmaUp;
        }
        predOriginal = x0;
        return prev;
    }
}
