package io.jdiffusion.models.scheduler;

import io.jdiffusion.models.rng.NoiseSource;

/**
 * What DDIM and DDPM share: integer timesteps spaced on the training schedule ("leading" by default, with
 * {@code steps_offset}), x0 from the model output with optional clipping, the posterior variance between two
 * alphas_cumprod levels, and diffusers' {@code add_noise}. Thresholding is not implemented.
 */
abstract class PosteriorScheduler extends AbstractScheduler {
    protected final PredictionType prediction;
    private final TimestepSpacing spacing;
    private final int stepsOffset;
    protected final SampleClipping clipping;

    PosteriorScheduler(String name, SchedulerConfig config) {
        super(name, NoiseSchedule.fromConfig(config, NoiseSchedule.ZeroSnr.RESCALE));
        config.requireOff("thresholding", name);
        this.prediction = PredictionType.fromConfig(config, name, PredictionType.EPSILON, PredictionType.V_PREDICTION,
                PredictionType.SAMPLE);
        this.spacing = TimestepSpacing.fromConfig(config, "leading");
        this.stepsOffset = config.integer("steps_offset", 0);
        this.clipping = SampleClipping.fromConfig(config, true);
    }

    @Override
    protected final float[] chooseTimesteps(int steps) {
        long[] ts = spacing.integer(schedule.trainSteps(), steps, stepsOffset);
        float[] out = new float[ts.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = ts[i];
        }
        return out;
    }

    /**
     * The variance of {@code q(x_prev | x_t, x0)} from level {@code alphaProd} to {@code alphaProdPrev}:
     * {@code (1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)} (DDPM's "fixed_small" before its floor; DDIM's
     * sigma_t^2 at eta 1), in diffusers' float32 operation order.
     */
    static float posteriorVariance(float alphaProd, float alphaProdPrev) {
        return ((1f - alphaProdPrev) / (1f - alphaProd)) * (1f - alphaProd / alphaProdPrev);
    }

    /** Adds {@code std * randn} to {@code prev} in place, the noise drawn as diffusers draws it. */
    protected final void addStepNoise(float[] prev, float std, NoiseSource noise) {
        float[] z = drawNoise(noise, prev.length);
        for (int i = 0; i < prev.length; i++) {
            prev[i] = prev[i] + std * z[i];
        }
    }

    @Override
    public final float[] addNoise(float[] original, float[] noise, int callIndex) {
        checkCall(callIndex, original, noise);
        return DdpmNoise.add(schedule, (int) timesteps[callIndex], original, noise);
    }
}
