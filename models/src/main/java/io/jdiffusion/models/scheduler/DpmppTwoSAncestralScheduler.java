package io.jdiffusion.models.scheduler;

import io.jdiffusion.models.rng.NoiseSource;

/**
 * A1111's "DPM++ 2S a": k-diffusion's {@code sample_dpmpp_2s_ancestral} (eta 1, s_noise 1), which diffusers
 * has no class for, on diffusers' sigma-space discretisation (the sigmas and timesteps of Euler, so that the
 * schedules apply as to the other k-diffusion samplers). Each step aims at
 * {@code sigma_down = sqrt(sigma_next^2 - sigma_up^2)}, with
 * {@code sigma_up = min(sigma_next, sqrt(sigma_next^2 (sigma^2 - sigma_next^2) / sigma^2))}, by the
 * second-order single-step DPM-Solver++ in log-sigma time {@code t = -log sigma} (Lu et al. 2022):
 * <pre>
 *   h = t_down - t,  s = t + h / 2  (sigma_s = sqrt(sigma sigma_down))
 *   x_2 = (sigma_s / sigma) x - expm1(-h / 2) D(x, sigma)
 *   x   = (sigma_down / sigma) x - expm1(-h) D(x_2, sigma_s)  + sigma_up * noise
 * </pre>
 * n steps make 2n - 1 UNet calls (the midpoint at a fractional timestep); the last step, with
 * sigma_down = 0, is one Euler call and draws no noise, as in k-diffusion.
 */
final class DpmppTwoSAncestralScheduler extends TwoStageScheduler {
    private AncestralSteps ancestralSteps;
    private float[] sigmasDown;
    private float[] midpoints;

    DpmppTwoSAncestralScheduler(SchedulerConfig config) {
        super("dpmpp_2s_a", config, PredictionType.EPSILON, PredictionType.V_PREDICTION, PredictionType.SAMPLE);
    }

    @Override
    protected CallPlan planCalls(float[] stepTimesteps) {
        int n = stepTimesteps.length;
        ancestralSteps = AncestralSteps.of(sigmas, n, true);
        sigmasDown = ancestralSteps.down();
        midpoints = new float[n];
        for (int k = 0; k < n; k++) {
            float from = sigmas[k];
            midpoints[k] = sigmasDown[k] > 0 ? (float) Math.exp(-(tOf(from) + (tOf(sigmasDown[k]) - tOf(from)) / 2)) : 0f;
        }
        return midpointCalls(stepTimesteps, midpoints);
    }

    /** k-diffusion's {@code t_fn}: {@code -log(sigma)}. */
    private static float tOf(float sigma) {
        return (float) -Math.log(sigma);
    }

    @Override
    public float[] step(float[] modelOutput, int callIndex, float[] sample, NoiseSource noise) {
        checkCall(callIndex, sample, modelOutput);
        int k = stepOf(callIndex);
        float sigma = sigmas[k];
        float h = tOf(sigmasDown[k]) - tOf(sigma);
        if (isFirstCall(callIndex)) {
            float[] x0 = prediction.denoisedVe(sample, modelOutput, sigma);
            predOriginal = x0;
            if (sigmasDown[k] == 0) {
                return eulerStep(sample, derivative(sample, x0, sigma), sigmasDown[k] - sigma);
            }
            startSample = sample;
            float sampleCoeff = midpoints[k] / sigma;
            float x0Coeff = (float) Math.expm1(-h * 0.5f);
            float[] mid = new float[sample.length];
            for (int i = 0; i < mid.length; i++) {
                mid[i] = sampleCoeff * sample[i] - x0Coeff * x0[i];
            }
            return mid;
        }
        float[] x0 = prediction.denoisedVe(sample, modelOutput, midpoints[k]);
        float sampleCoeff = sigmasDown[k] / sigma;
        float x0Coeff = (float) Math.expm1(-h);
        float[] prev = new float[sample.length];
        for (int i = 0; i < prev.length; i++) {
            prev[i] = sampleCoeff * startSample[i] - x0Coeff * x0[i];
        }
        ancestralSteps.addNoise(prev, k, drawNoise(noise, sample.length));
        startSample = null;
        predOriginal = x0;
        return prev;
    }
}
