package io.jdiffusion.models.scheduler;

import io.jdiffusion.models.rng.NoiseSource;

import java.util.Arrays;

/**
 * diffusers' {@code KDPM2DiscreteScheduler} (k-diffusion's {@code sample_dpm_2}, from Lu et al.'s DPM-Solver-2
 * in Karras et al.'s form): an Euler half step to the geometric midpoint {@code sqrt(sigma sigma_next)} of
 * the interval, the model evaluated there, and the whole step taken with the midpoint's derivative.
 * n steps make 2n - 1 UNet calls, the midpoint calls at fractional timesteps; the last step, down to
 * sigma 0 (whose midpoint is 0), is a plain Euler step. Second order up to that final step.
 *
 * <p>The ancestral form is diffusers' {@code KDPM2AncestralDiscreteScheduler} (k-diffusion's
 * {@code sample_dpm_2_ancestral}, eta 1): the same step aimed at {@code sigma_down} instead of sigma_next
 * (midpoint {@code sqrt(sigma sigma_down)}), then fresh noise of size {@code sigma_up} ({@link AncestralStep}).
 * It draws n - 1 noises, one per two-call step, after its second call; the last step is deterministic.
 */
final class Dpm2Scheduler extends TwoStageScheduler {
    private final boolean ancestral;
    /** Where each step aims: sigma_next, or sigma_down when ancestral. */
    private float[] targets;
    /** The ancestral split of each step; null for plain DPM2. */
    private AncestralSteps ancestralSteps;
    /** The geometric midpoint of each step between sigma and its target; 0 for the last step. */
    private float[] midpoints;

    Dpm2Scheduler(SchedulerConfig config, boolean ancestral) {
        super(ancestral ? "dpm2_a" : "dpm2", config, PredictionType.EPSILON, PredictionType.V_PREDICTION);
        this.ancestral = ancestral;
    }

    @Override
    protected boolean roundsKarrasTimesteps() {
        return true;
    }

    @Override
    protected CallPlan planCalls(float[] stepTimesteps) {
        int n = stepTimesteps.length;
        ancestralSteps = ancestral ? AncestralSteps.of(sigmas, n, false) : null;
        targets = ancestral ? ancestralSteps.down() : Arrays.copyOfRange(sigmas, 1, n + 1);
        midpoints = new float[n];
        for (int k = 0; k + 1 < n; k++) {
            // diffusers lerps from sigma_next towards sigma for DPM2, from sigma towards sigma_down for DPM2 a
            midpoints[k] = ancestral ? geometricMidpoint(sigmas[k], targets[k]) : geometricMidpoint(targets[k], sigmas[k]);
        }
        return midpointCalls(stepTimesteps, midpoints);
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
        float[] prev = eulerStep(startSample, derivative(sample, x0, midpoints[k]), targets[k] - sigma);
        if (ancestral) {
            ancestralSteps.addNoise(prev, k, drawNoise(noise, prev.length));
        }
        startSample = null;
        predOriginal = x0;
        return prev;
    }
}
