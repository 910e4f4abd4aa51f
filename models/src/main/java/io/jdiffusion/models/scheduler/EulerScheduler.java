package io.jdiffusion.models.scheduler;

import io.jdiffusion.models.rng.NoiseSource;

import java.util.List;

/**
 * diffusers' {@code EulerDiscreteScheduler} (Karras et al. 2022, Algorithm 2 without churn): one Euler
 * step of the probability-flow ODE, {@code x_next = x + (x - x0) / sigma * (sigma_next - sigma)}.
 */
final class EulerScheduler extends SigmaSpaceScheduler {

    EulerScheduler(SchedulerConfig config) {
        super("euler", config, NoiseSchedule.ZeroSnr.RESCALE_AND_CLAMP, true, true,
                PredictionType.EPSILON, PredictionType.V_PREDICTION, PredictionType.SAMPLE);
        config.choice("interpolation_type", "linear", List.of("linear"));
        config.choice("timestep_type", "discrete", List.of("discrete"));
    }

    @Override
    public float[] step(float[] modelOutput, int callIndex, float[] sample, NoiseSource noise) {
        checkCall(callIndex, sample, modelOutput);
        float sigma = sigmas[callIndex];
        float[] x0 = prediction.denoisedVe(sample, modelOutput, sigma);
        float[] d = derivative(sample, x0, sigma);
        float dt = sigmas[callIndex + 1] - sigma;
        float[] prev = new float[sample.length];
        for (int i = 0; i < prev.length; i++) {
            prev[i] = sample[i] + d[i] * dt;
        }
        predOriginal = x0;
        return prev;
    }
}
