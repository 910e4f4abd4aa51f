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
final class DdimScheduler extends AbstractScheduler {
    private final PredictionType prediction;
    private final TimestepSpacing spacing;
    private final int stepsOffset;
    private final SampleClipping clipping;
    private final float finalAlphaCumprod;
    private final float eta;

    DdimScheduler(SchedulerConfig config, float eta) {
        super("ddim", NoiseSchedule.fromConfig(config, NoiseSchedule.ZeroSnr.RESCALE));
        if (!(eta >= 0) || Float.isInfinite(eta)) {
            throw new IllegalArgumentException("ddim: eta must be a finite number >= 0, got " + eta);
        }
        config.requireOff("thresholding", name);
        this.prediction = PredictionType.fromConfig(config, name, PredictionType.EPSILON, PredictionType.V_PREDICTION,
                PredictionType.SAMPLE);
        this.spacing = TimestepSpacing.fromConfig(config, "leading");
        this.stepsOffset = config.integer("steps_offset", 0);
        this.clipping = SampleClipping.fromConfig(config, true);
        this.finalAlphaCumprod = config.flag("set_alpha_to_one", true) ? 1f : schedule.alphaCumprod(0);
        this.eta = eta;
    }

    @Override
    protected float[] chooseTimesteps(int steps) {
        long[] ts = spacing.integer(schedule.trainSteps(), steps, stepsOffset);
        float[] out = new float[ts.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = ts[i];
        }
        return out;
    }

    @Override
    public float[] step(float[] modelOutput, int callIndex, float[] sample, NoiseSource noise) {
        checkCall(callIndex, sample, modelOutput);
        int timestep = (int) timesteps[callIndex];
        int prevTimestep = timestep - schedule.trainSteps() / numInferenceSteps;
        float alphaProd = schedule.alphaCumprod(timestep);
        float alphaProdPrev = prevTimestep >= 0 ? schedule.alphaCumprod(prevTimestep) : finalAlphaCumprod;
        float betaProd = 1f - alphaProd;
        float sqrtAlpha = (float) Math.sqrt(alphaProd);
        float sqrtBeta = (float) Math.sqrt(betaProd);

        float[] x0 = prediction.denoisedVp(sample, modelOutput, sqrtAlpha, sqrtBeta);
        float[] eps = prediction.noiseVp(sample, modelOutput, x0, sqrtAlpha, sqrtBeta);
        clipping.apply(x0);

        float betaProdPrev = 1f - alphaProdPrev;
        float variance = (betaProdPrev / betaProd) * (1f - alphaProd / alphaProdPrev);
        float stdDev = eta * (float) Math.sqrt(variance);
        float directionCoeff = (float) Math.sqrt(1f - alphaProdPrev - stdDev * stdDev);
        float sqrtAlphaPrev = (float) Math.sqrt(alphaProdPrev);
        float[] prev = new float[sample.length];
        for (int i = 0; i < prev.length; i++) {
            prev[i] = sqrtAlphaPrev * x0[i] + directionCoeff * eps[i];
        }
        if (eta > 0) {
            float[] z = drawNoise(noise, sample.length);
            for (int i = 0; i < prev.length; i++) {
                prev[i] = prev[i] + stdDev * z[i];
            }
        }
        predOriginal = x0;
        return prev;
    }

    @Override
    public float[] addNoise(float[] original, float[] noise, int callIndex) {
        checkCall(callIndex, original, noise);
        return DdpmNoise.add(schedule, (int) timesteps[callIndex], original, noise);
    }
}
