package io.jdiffusion.models.scheduler;

import io.jdiffusion.models.rng.NoiseSource;

/**
 * diffusers' {@code LCMScheduler} (Luo et al. 2023, "Latent Consistency Models"), for LCM-distilled UNets
 * and LCM LoRAs: each step maps the sample straight to a clean estimate through the consistency
 * function's boundary condition, {@code denoised = c_out x0 + c_skip x} with
 * {@code c_skip = 0.25 / ((10 t)^2 + 0.25)} and {@code c_out = 10 t / sqrt((10 t)^2 + 0.25)}
 * (sigma_data 0.5, timestep_scaling 10), and, except at the last step, noises it again to the next
 * timestep with fresh noise. The timesteps come from the distillation's schedule of
 * {@code original_inference_steps} (50): {@code k = T / 50}, the candidates {@code 999, 979, ..., 19},
 * of which n are taken at {@code floor(linspace(0, 50, n, endpoint=False))} (999, 759, 499, 259 for 4
 * steps); at most 50 steps. The config's timestep_spacing does not apply, as in diffusers.
 */
final class LcmScheduler extends AbstractScheduler {
    private static final double SIGMA_DATA = 0.5;

    private final PredictionType prediction;
    private final int originalSteps;
    private final double timestepScaling;
    private final SampleClipping clipping;

    LcmScheduler(SchedulerConfig config) {
        super("lcm", NoiseSchedule.fromConfig(config, NoiseSchedule.ZeroSnr.RESCALE));
        this.prediction = PredictionType.fromConfig(config, name, PredictionType.EPSILON, PredictionType.V_PREDICTION,
                PredictionType.SAMPLE);
        this.originalSteps = config.integer("original_inference_steps", 50);
        if (originalSteps < 1 || originalSteps > schedule.trainSteps()) {
            throw new IllegalArgumentException(name + ": original_inference_steps must be in [1, " + schedule.trainSteps()
                    + "], got " + originalSteps);
        }
        this.timestepScaling = config.number("timestep_scaling", 10.0);
        this.clipping = SampleClipping.fromConfig(config, false);
        config.requireOff("thresholding", name);
    }

    @Override
    protected float[] chooseTimesteps(int steps) {
        if (steps > originalSteps) {
            throw new IllegalArgumentException(name + ": at most " + originalSteps
                    + " steps (the distillation's original_inference_steps), got " + steps);
        }
        int k = schedule.trainSteps() / originalSteps;
        int[] descending = new int[originalSteps];
        for (int i = 0; i < originalSteps; i++) {
            descending[i] = (originalSteps - i) * k - 1;
        }
        double[] indices = NumpyMath.linspace(0, originalSteps, steps + 1); // endpoint=False: drop the last of n + 1
        float[] out = new float[steps];
        for (int i = 0; i < steps; i++) {
            out[i] = descending[(int) Math.floor(indices[i])];
        }
        return out;
    }

    @Override
    public float[] step(float[] modelOutput, int callIndex, float[] sample, NoiseSource noise) {
        checkCall(callIndex, sample, modelOutput);
        int t = (int) timesteps[callIndex];
        boolean last = callIndex == timesteps.length - 1;
        float alphaProd = schedule.alphaCumprod(t);
        float[] x0 = prediction.denoisedVp(sample, modelOutput, (float) Math.sqrt(alphaProd), (float) Math.sqrt(1f - alphaProd));
        clipping.apply(x0);
        double scaled = t * timestepScaling;
        float cSkip = (float) (SIGMA_DATA * SIGMA_DATA / (scaled * scaled + SIGMA_DATA * SIGMA_DATA));
        float cOut = (float) (scaled / Math.sqrt(scaled * scaled + SIGMA_DATA * SIGMA_DATA));
        float[] denoised = new float[sample.length];
        for (int i = 0; i < denoised.length; i++) {
            denoised[i] = cOut * x0[i] + cSkip * sample[i];
        }
        predOriginal = denoised;
        if (last) {
            return denoised.clone();
        }
        float alphaProdPrev = schedule.alphaCumprod((int) timesteps[callIndex + 1]);
        float sqrtAlphaPrev = (float) Math.sqrt(alphaProdPrev);
        float sqrtBetaPrev = (float) Math.sqrt(1f - alphaProdPrev);
        float[] z = drawNoise(noise, sample.length);
        float[] prev = new float[sample.length];
        for (int i = 0; i < prev.length; i++) {
            prev[i] = sqrtAlphaPrev * denoised[i] + sqrtBetaPrev * z[i];
        }
        return prev;
    }

    @Override
    public float[] addNoise(float[] original, float[] noise, int callIndex) {
        checkCall(callIndex, original, noise);
        return DdpmNoise.add(schedule, (int) timesteps[callIndex], original, noise);
    }
}
