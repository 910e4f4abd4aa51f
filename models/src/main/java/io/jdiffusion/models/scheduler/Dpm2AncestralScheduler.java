package io.jdiffusion.models.scheduler;

import io.jdiffusion.models.rng.NoiseSource;

import java.util.Arrays;

/**
 * diffusers' {@code KDPM2AncestralDiscreteScheduler} (k-diffusion's {@code sample_dpm_2_ancestral}, eta 1):
 * DPM2 aimed at {@code sigma_down} instead of sigma_next, then fresh noise of size {@code sigma_up}, with
 * {@code sigma_up = sqrt(sigma_next^2 (sigma^2 - sigma_next^2) / sigma^2)} and
 * {@code sigma_down = sqrt(sigma_next^2 - sigma_up^2)}. The midpoint is {@code sqrt(sigma sigma_down)}.
 * n steps make 2n - 1 calls and n - 1 noise draws (one per two-call step, after its second call); the last
 * step is a deterministic Euler step to 0.
 */
final class Dpm2AncestralScheduler extends TwoStageScheduler {
    private float[] sigmasUp;
    private float[] sigmasDown;
    private float[] midpoints;

    Dpm2AncestralScheduler(SchedulerConfig config) {
        super("dpm2_a", config, PredictionType.EPSILON, PredictionType.V_PREDICTION);
    }

    @Override
    protected boolean roundsKarrasTimesteps() {
        return true;
    }

    @Override
    protected CallPlan planCalls(float[] stepTimesteps) {
        int n = stepTimesteps.length;
        sigmasUp = new float[n];
        sigmasDown = new float[n];
        midpoints = new float[n];
        float[] midTimesteps = new float[n];
        for (int k = 0; k < n; k++) {
            float from = sigmas[k];
            float to = sigmas[k + 1];
            AncestralStep split = AncestralStep.of(from, to);
            sigmasUp[k] = split.up();
            sigmasDown[k] = split.down();
            midpoints[k] = k + 1 < n ? Dpm2Scheduler.geometricMidpoint(from, sigmasDown[k]) : 0f;
            midTimesteps[k] = timestepOf(midpoints[k]);
        }
        return new CallPlan(interleave(stepTimesteps, midTimesteps), interleave(Arrays.copyOf(sigmas, n), midpoints));
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
        float[] prev = eulerStep(startSample, derivative(sample, x0, midpoints[k]), sigmasDown[k] - sigma);
        float[] z = drawNoise(noise, prev.length);
        for (int i = 0; i < prev.length; i++) {
            prev[i] = prev[i] + z[i] * sigmasUp[k];
        }
        startSample = null;
        predOriginal = x0;
        return prev;
    }
}
