package io.jdiffusion.models.scheduler;

import io.jdiffusion.models.rng.NoiseSource;

/**
 * diffusers' {@code DDIMScheduler} (Song et al. 2021, eq. 12): x0 and the noise estimate from the model
 * output, then {@code x_prev = sqrt(a_prev) x0 + sqrt(1 - a_prev - s^2) eps (+ s noise)} with
 * {@code s = eta * sqrt((1 - a_prev) / (1 - a) * (1 - a / a_prev))}. eta = 0 is deterministic; eta > 0
 * draws {@code randn} from the generator at every step.
 *
 * <p>{@code clip_sample} and {@code set_alpha_to_one} default to true in the class but come from the
 * model's config when present: SD 1.5's says false for both. Dynamic thresholding is not implemented.
 */
final class DdimScheduler extends PosteriorScheduler {
    private final float finalAlphaCumprod;
    private final float eta;

    DdimScheduler(SchedulerConfig config, float eta) {
        super("ddim", config);
        if (!(eta >= 0) || Float.isInfinite(eta)) {
            throw new IllegalArgumentException("ddim: eta must be a finite number >= 0, got " + eta);
        }
        this.finalAlphaCumprod = config.flag("set_alpha_to_one", true) ? 1f : schedule.alphaCumprod(0);
        this.eta = eta;
    }

    @Override
    public float[] step(float[] modelOutput, int callIndex, float[] sample, NoiseSource noise) {
        checkCall(callIndex, sample, modelOutput);
        int timestep = (int) timesteps[callIndex];
        int prevTimestep = timestep - schedule.trainSteps() / numInferenceSteps;
        float alphaProd = schedule.alphaCumprod(timestep);
        float alphaProdPrev = prevTimestep >= 0 ? schedule.alphaCumprod(prevTimestep) : finalAlphaCumprod;
        float sqrtAlpha = (float) Math.sqrt(alphaProd);
        float sqrtBeta = (float) Math.sqrt(1f - alphaProd);

        float[] x0 = prediction.denoisedVp(sample, modelOutput, sqrtAlpha, sqrtBeta);
        float[] eps = prediction.noiseVp(sample, modelOutput, x0, sqrtAlpha, sqrtBeta);
        clipping.apply(x0);

        float stdDev = eta * (float) Math.sqrt(posteriorVariance(alphaProd, alphaProdPrev));
        float directionCoeff = (float) Math.sqrt(1f - alphaProdPrev - stdDev * stdDev);
        float sqrtAlphaPrev = (float) Math.sqrt(alphaProdPrev);
        float[] prev = new float[sample.length];
        for (int i = 0; i < prev.length; i++) {
            prev[i] = sqrtAlphaPrev * x0[i] + directionCoeff * eps[i];
        }
        if (eta > 0) {
            addStepNoise(prev, stdDev, noise);
        }
        predOriginal = x0;
        return prev;
    }
}
