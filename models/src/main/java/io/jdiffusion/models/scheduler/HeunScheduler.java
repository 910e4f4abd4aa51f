package io.jdiffusion.models.scheduler;

import io.jdiffusion.models.rng.NoiseSource;

/**
 * diffusers' {@code HeunDiscreteScheduler} (Karras et al. 2022, Algorithm 1 without churn): an Euler
 * predictor from sigma to sigma_next, the model evaluated again there, and the step redone with the mean
 * of the two derivatives. Each step but the last costs two UNet calls, so n steps make 2n - 1 calls at
 * timesteps {@code t0, t1, t1, t2, t2, ..., t(n-1), t(n-1)}; the last step, down to sigma 0, is a plain
 * Euler step. Second order in the step size up to that final Euler step.
 */
final class HeunScheduler extends TwoStageScheduler {
    /** State between a step's two calls: its first derivative and dt. */
    private float[] firstDerivative;
    private float dt;

    HeunScheduler(SchedulerConfig config) {
        super("heun", config, PredictionType.EPSILON, PredictionType.V_PREDICTION, PredictionType.SAMPLE);
        config.requireOff("clip_sample", name);
    }

    @Override
    protected CallPlan planCalls(float[] stepTimesteps) {
        int n = stepTimesteps.length;
        float[] nextTimesteps = new float[n];
        float[] nextSigmas = new float[n];
        float[] stepSigmas = new float[n];
        for (int k = 0; k < n; k++) {
            stepSigmas[k] = sigmas[k];
            nextSigmas[k] = sigmas[k + 1];
            nextTimesteps[k] = k + 1 < n ? stepTimesteps[k + 1] : 0f;
        }
        return new CallPlan(interleave(stepTimesteps, nextTimesteps), interleave(stepSigmas, nextSigmas));
    }

    @Override
    protected void resetChain() {
        super.resetChain();
        firstDerivative = null;
    }

    @Override
    public float[] step(float[] modelOutput, int callIndex, float[] sample, NoiseSource noise) {
        checkCall(callIndex, sample, modelOutput);
        int k = stepOf(callIndex);
        float[] prev;
        if (isFirstCall(callIndex)) {
            float sigma = sigmas[k];
            float[] x0 = prediction.denoisedVe(sample, modelOutput, sigma);
            firstDerivative = derivative(sample, x0, sigma);
            dt = sigmas[k + 1] - sigma;
            startSample = sample;
            prev = eulerStep(sample, firstDerivative, dt);
            predOriginal = x0;
        } else {
            float sigmaNext = sigmas[k + 1];
            float[] x0 = prediction.denoisedVe(sample, modelOutput, sigmaNext);
            float[] second = derivative(sample, x0, sigmaNext);
            float[] mean = new float[second.length];
            for (int i = 0; i < mean.length; i++) {
                mean[i] = (firstDerivative[i] + second[i]) / 2;
            }
            prev = eulerStep(startSample, mean, dt);
            resetChain();
            predOriginal = x0;
        }
        return prev;
    }
}
