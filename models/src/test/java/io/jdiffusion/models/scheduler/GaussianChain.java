package io.jdiffusion.models.scheduler;

import io.jdiffusion.models.rng.NoiseSource;

import java.util.Arrays;

/**
 * A sampler run on data with a known answer: x0 ~ N(MU, S^2), whose exact denoiser is
 * {@code D(x, sigma) = MU + S^2 / (S^2 + sigma^2) (x - MU)}, whose noisy marginal at level sigma is
 * N(MU, S^2 + sigma^2), and whose probability-flow ODE maps one marginal onto the next.
 *
 * <p>Every sampler step is affine in the sample, the model output and its noise, and the model here is
 * affine in its input, so a whole chain is affine in the start sample and the noise draws. The chain runs
 * on basis samples side by side (the samplers are element-wise): element 0 starts at 0, element 1 at 1,
 * element 2 + j at 0 with noise draw j set to 1 there and 0 elsewhere. Their results give the chain's mean
 * and variance for a start drawn from the exact marginal exactly, with no sampling error.
 */
final class GaussianChain {
    static final double MU = 0.3;
    static final double S = 0.6;

    /** What the model returns: the exact denoiser, or the exact consistency function (for LCM). */
    enum Model { DENOISER, CONSISTENCY }

    /** Mean and variance of a chain's sample in variance-exploding coordinates, at noise level sigma. */
    record Moments(double mean, double variance, double sigma) {
        /** |mean - MU| + |variance - (S^2 + sigma^2)|: 0 when the sample has the exact marginal. */
        double error() {
            return Math.abs(mean - MU) + Math.abs(variance - (S * S + sigma * sigma));
        }
    }

    /** The chain's moments before its last UNet call and after its last step. */
    record Result(Moments beforeLastCall, Moments end, int calls, int draws) {
    }

    private GaussianChain() {
    }

    static Result run(Scheduler scheduler, int steps, Model model) {
        scheduler.setTimesteps(steps);
        int calls = scheduler.timesteps().length;
        int width = 2 + 2 * calls;
        int[] draws = {0};
        NoiseSource basisNoise = n -> {
            if (n != width) {
                throw new AssertionError("noise of length " + n + " for a sample of " + width);
            }
            if (2 + draws[0] >= width) {
                throw new AssertionError("more noise draws than calls");
            }
            float[] z = new float[n];
            z[2 + draws[0]++] = 1f;
            return z;
        };
        float[] sample = new float[width];
        sample[1] = 1f;
        double scale0 = veScale(scheduler, 0);
        double sigma0 = scheduler.noiseLevel(0);
        // start: y = scale0 * x with x ~ N(MU, S^2 + sigma0^2)
        double startMean = scale0 * MU;
        double startVar = scale0 * scale0 * (S * S + sigma0 * sigma0);
        Moments before = null;
        for (int i = 0; i < calls; i++) {
            if (i == calls - 1) {
                before = moments(sample, draws[0], startMean, startVar, scheduler.noiseLevel(i), veScale(scheduler, i));
            }
            float[] output = modelOutput(scheduler, i, sample, model);
            sample = scheduler.step(output, i, sample, basisNoise);
        }
        Moments end = moments(sample, draws[0], startMean, startVar, 0, 1);
        return new Result(before, end, calls, draws[0]);
    }

    /**
     * How the sampler's own coordinates scale variance-exploding ones at call i: 1 for sigma-space samplers,
     * 1 / sqrt(1 + sigma^2) for timestep-space ones (whose samples are what the UNet sees).
     */
    private static double veScale(Scheduler scheduler, int i) {
        double sigma = scheduler.noiseLevel(i);
        return 1 / (scheduler.scaleModelInput(new float[] {1f}, i)[0] * Math.sqrt(1 + sigma * sigma));
    }

    /** Epsilon as a perfect UNet would predict it: its input is always the VP sample x / sqrt(1 + sigma^2). */
    private static float[] modelOutput(Scheduler scheduler, int i, float[] sample, Model model) {
        float[] input = scheduler.scaleModelInput(sample, i);
        double sigma = scheduler.noiseLevel(i);
        double toVe = Math.sqrt(1 + sigma * sigma);
        float[] eps = new float[input.length];
        for (int k = 0; k < eps.length; k++) {
            double x = input[k] * toVe;
            double clean = model == Model.DENOISER
                    ? MU + S * S / (S * S + sigma * sigma) * (x - MU)
                    : MU + (x - MU) * S / Math.sqrt(S * S + sigma * sigma);
            eps[k] = (float) ((x - clean) / sigma);
        }
        return eps;
    }

    private static Moments moments(float[] v, int draws, double startMean, double startVar, double sigma, double scale) {
        double c = v[0];
        double a = v[1] - c;
        double noiseVar = 0;
        for (int j = 0; j < draws; j++) {
            double b = v[2 + j] - c;
            noiseVar += b * b;
        }
        double mean = (c + a * startMean) / scale;
        double variance = (a * a * startVar + noiseVar) / (scale * scale);
        return new Moments(mean, variance, sigma);
    }

    static String describe(Result r) {
        return String.format(java.util.Locale.ROOT, "calls %d draws %d before-last %s end %s", r.calls(), r.draws(),
                Arrays.toString(new double[] {r.beforeLastCall().mean(), r.beforeLastCall().variance(), r.beforeLastCall().sigma()}),
                Arrays.toString(new double[] {r.end().mean(), r.end().variance()}));
    }
}
