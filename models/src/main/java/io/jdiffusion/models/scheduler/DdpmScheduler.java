package io.jdiffusion.models.scheduler;

import io.jdiffusion.models.rng.NoiseSource;

import java.util.List;

/**
 * diffusers' {@code DDPMScheduler} (Ho et al. 2020) over the inference timesteps: x0 from the model output,
 * then a draw from the posterior {@code q(x_prev | x_t, x0)} between consecutive inference timesteps:
 * mean {@code sqrt(a_prev) beta_t / (1 - a_t) x0 + sqrt(alpha_t) (1 - a_prev) / (1 - a_t) x_t} with
 * {@code alpha_t = a_t / a_prev}, {@code beta_t = 1 - alpha_t}, and variance
 * {@code (1 - a_prev) / (1 - a_t) beta_t} ("fixed_small", at least 1e-20) or {@code beta_t} ("fixed_large").
 * Noise is drawn at every timestep above 0. The step after the last timestep goes to a_prev = 1.
 *
 * <p>clip_sample defaults to true in the class, as in diffusers (SD's config turns it off); learned
 * variances and thresholding are not implemented.
 */
final class DdpmScheduler extends PosteriorScheduler {
    private final boolean fixedLarge;

    DdpmScheduler(SchedulerConfig config) {
        super("ddpm", config);
        this.fixedLarge = config.choice("variance_type", "fixed_small", List.of("fixed_small", "fixed_large"))
                .equals("fixed_large");
    }

    @Override
    public float[] step(float[] modelOutput, int callIndex, float[] sample, NoiseSource noise) {
        checkCall(callIndex, sample, modelOutput);
        int t = (int) timesteps[callIndex];
        float alphaProd = schedule.alphaCumprod(t);
        float alphaProdPrev = callIndex + 1 < timesteps.length ? schedule.alphaCumprod((int) timesteps[callIndex + 1]) : 1f;
        float betaProd = 1f - alphaProd;
        float betaProdPrev = 1f - alphaProdPrev;
        float currentAlpha = alphaProd / alphaProdPrev;
        float currentBeta = 1f - currentAlpha;

        float sqrtAlpha = (float) Math.sqrt(alphaProd);
        float[] x0 = prediction.denoisedVp(sample, modelOutput, sqrtAlpha, (float) Math.sqrt(betaProd));
        clipping.apply(x0);
        float x0Coeff = ((float) Math.sqrt(alphaProdPrev) * currentBeta) / betaProd;
        float sampleCoeff = (float) Math.sqrt(currentAlpha) * betaProdPrev / betaProd;
        float[] prev = new float[sample.length];
        for (int i = 0; i < prev.length; i++) {
            prev[i] = x0Coeff * x0[i] + sampleCoeff * sample[i];
        }
        if (t > 0) {
            float variance = fixedLarge ? currentBeta : Math.max(posteriorVariance(alphaProd, alphaProdPrev), 1e-20f);
            addStepNoise(prev, (float) Math.sqrt(variance), noise);
        }
        predOriginal = x0;
        return prev;
    }
}
