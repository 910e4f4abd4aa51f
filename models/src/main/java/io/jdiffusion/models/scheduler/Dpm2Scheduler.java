package io.jdiffusion.models.scheduler;

import io.jdiffusion.models.rng.NoiseSource;

import java.util.Arrays;

/**
 * diffusers' {@code KDPM2DiscreteScheduler} (k-diffusion's {@code sample_dpm_2}, from Lu et al.'s DPM-Solver-2
 * in Karras et al.'s form): an Euler half step to the geometric midpoint {@code sqrt(sigma sigma_next)} of
 * the interval, the model evaluated there, and the whole step taken with the midpoint's derivative.
 * n steps make 2n - 1 UNet calls, the midpoint calls at fractional timesteps; the last step, down to
 * sigma 0 (whose midpoint is 0), is a plain Euler step. Second order up to that final step.
 */
final class Dpm2Scheduler extends TwoStageScheduler {
    /** The midpoint of each step, {@code exp(lerp(log sigma_next, log sigma, 0.5))}; 0 for the last step. */
    private float[] midpoints;

    Dpm2Scheduler(SchedulerConfig config) {
        super("dpm2", config, PredictionType.EPSILON, PredictionType.V_PREDICTION);
    }

    @Override
    protected boolean roundsKarrasTimesteps() {
        return true;
    }

    @Override
    protected CallPlan planCalls(float[] stepTimesteps) {
        int n = stepTimesteps.length;
        midpoints = new float[n];
        float[] midTimesteps = new float[n];
        for (int k = 0; k < n; k++) {
            midpoints[k] = k + 1 < n ? geometricMidpoint(sigmas[k + 1], sigmas[k]) : 0f;
            midTimesteps[k] = timestepOf(midpoints[k]);
        }
        return new CallPlan(interleave(stepTimesteps, midTimesteps), interleave(Arrays.copyOf(sigmas, n), midpoints));
    }

    /** torch's {@code start.log().lerp(end.log(), 0.5).exp()} in float32 (weight 0.5 takes lerp's second form). */
    static float geometricMidpoint(float start, float end) {
        float logStart = (float) Math.log(start);
        float logEnd = (float) Math.log(end);
        return (float) Math.exp(logEnd - (logEnd - logStart) * 0.5f);
    }

    @Override
    public float[] step(float[] modelOutput, int callIndex, float[] sample, NoiseSource noise) {
        checkCall(callIndex, sample, modelOutput);
        int k = stepOf(callIndex);
        float sigma = sigmas[k];
        if (isFirstCall(callIndex)) {
            return eulerToIntermediate(sample, prediction.denoisedVe(sample, modelOutput, sigma), sigma, midpoints[k]);
        }
        float[] x0 = prediction.denoisedVe(sample, modelOutput, midpoints[k]);
        float[] prev = eulerStep(startSample, derivative(sample, x0, midpoints[k]), sigmas[k + 1] - sigma);
        startSample = null;
        predOriginal = x0;
        return prev;
    }
}
