package io.jdiffusion.models.scheduler;

import io.jdiffusion.models.rng.NoiseSource;

import java.util.ArrayList;
import java.util.List;

/**
 * diffusers' {@code PNDMScheduler} in its PLMS form ({@code skip_prk_steps}, SD 1.x's default): a
 * fourth-order linear multistep method on the noise estimates (Liu et al. 2022, "Pseudo Numerical Methods
 * for Diffusion Models"), warmed up by a second-order step that costs one extra UNet call: for 20 steps
 * the timesteps are 951, 901, 901, 851, ..., 1 (21 calls). The Runge-Kutta warm-up (skip_prk_steps false)
 * is not implemented.
 */
final class PndmScheduler extends AbstractScheduler {
    private final PredictionType prediction;
    private final TimestepSpacing spacing;
    private final int stepsOffset;
    private final float finalAlphaCumprod;

    /** Previous noise estimates, oldest first (at most 4). */
    private final List<float[]> ets = new ArrayList<>();
    private float[] warmupSample;
    private int counter;

    PndmScheduler(SchedulerConfig config) {
        super("pndm", NoiseSchedule.fromConfig(config, NoiseSchedule.ZeroSnr.IGNORED));
        if (!config.flag("skip_prk_steps", false)) {
            throw new IllegalArgumentException("pndm: only PLMS with skip_prk_steps = true is supported (SD's setting);"
                    + " the config has skip_prk_steps false or missing");
        }
        this.prediction = PredictionType.fromConfig(config, name, PredictionType.EPSILON, PredictionType.V_PREDICTION);
        this.spacing = TimestepSpacing.fromConfig(config, "leading");
        this.stepsOffset = config.integer("steps_offset", 0);
        this.finalAlphaCumprod = config.flag("set_alpha_to_one", false) ? 1f : schedule.alphaCumprod(0);
    }

    @Override
    protected float[] chooseTimesteps(int steps) {
        ets.clear();
        warmupSample = null;
        counter = 0;
        long[] descending = spacing.integer(schedule.trainSteps(), steps, stepsOffset);
        // plms = concat(ts[:-1], ts[-2:-1], ts[-1:])[::-1] on the ascending list: the second largest repeats
        int n = descending.length;
        List<Long> plms = new ArrayList<>();
        plms.add(descending[0]);
        if (n >= 2) {
            plms.add(descending[1]);
        }
        for (int i = 1; i < n; i++) {
            plms.add(descending[i]);
        }
        float[] out = new float[plms.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = plms.get(i);
        }
        return out;
    }

    @Override
    public float[] step(float[] modelOutput, int callIndex, float[] sample, NoiseSource noise) {
        checkCall(callIndex, sample, modelOutput);
        int stride = schedule.trainSteps() / numInferenceSteps;
        int timestep = (int) timesteps[callIndex];
        int prevTimestep = timestep - stride;
        float[] output = modelOutput.clone();
        if (counter != 1) {
            while (ets.size() > 3) {
                ets.removeFirst();
            }
            ets.add(output);
        } else {
            // the warm-up's second call evaluates the model again at the first step's start
            prevTimestep = timestep;
            timestep = timestep + stride;
        }

        float[] combined;
        float[] from = sample;
        int k = ets.size();
        if (k == 1 && counter == 0) {
            combined = output;
            warmupSample = sample.clone();
        } else if (k == 1 && counter == 1) {
            float[] e1 = ets.getLast();
            combined = new float[output.length];
            for (int i = 0; i < combined.length; i++) {
                combined[i] = (output[i] + e1[i]) / 2f;
            }
            from = warmupSample;
            warmupSample = null;
        } else {
            combined = linearMultistep();
        }
        float[] prev = previousSample(from, timestep, prevTimestep, combined);
        counter++;
        return prev;
    }

    /** Adams-Bashforth combinations of the stored noise estimates, orders 2 to 4, in diffusers' operation order. */
    private float[] linearMultistep() {
        int k = ets.size();
        float[] e1 = ets.get(k - 1);
        float[] out = new float[e1.length];
        switch (k) {
            case 2 -> {
                float[] e2 = ets.get(k - 2);
                for (int i = 0; i < out.length; i++) {
                    out[i] = (3f * e1[i] - e2[i]) / 2f;
                }
            }
            case 3 -> {
                float[] e2 = ets.get(k - 2);
                float[] e3 = ets.get(k - 3);
                for (int i = 0; i < out.length; i++) {
                    out[i] = (23f * e1[i] - 16f * e2[i] + 5f * e3[i]) / 12f;
                }
            }
            default -> {
                float[] e2 = ets.get(k - 2);
                float[] e3 = ets.get(k - 3);
                float[] e4 = ets.get(k - 4);
                float oneOver24 = (float) (1.0 / 24);
                for (int i = 0; i < out.length; i++) {
                    out[i] = oneOver24 * (55f * e1[i] - 59f * e2[i] + 37f * e3[i] - 9f * e4[i]);
                }
            }
        }
        return out;
    }

    /** Formula (9) of the PNDM paper: x_{t-delta} from x_t and a noise estimate. */
    private float[] previousSample(float[] sample, int timestep, int prevTimestep, float[] modelOutput) {
        float alphaProd = schedule.alphaCumprod(timestep);
        float alphaProdPrev = prevTimestep >= 0 ? schedule.alphaCumprod(prevTimestep) : finalAlphaCumprod;
        float betaProd = 1f - alphaProd;
        float betaProdPrev = 1f - alphaProdPrev;
        float[] eps = prediction.noiseVp(sample, modelOutput, null, sqrt(alphaProd), sqrt(betaProd));
        float sampleCoeff = sqrt(alphaProdPrev / alphaProd);
        float denominator = alphaProd * sqrt(betaProdPrev) + sqrt(alphaProd * betaProd * alphaProdPrev);
        float alphaDifference = alphaProdPrev - alphaProd;
        float[] prev = new float[sample.length];
        for (int i = 0; i < prev.length; i++) {
            prev[i] = sampleCoeff * sample[i] - alphaDifference * eps[i] / denominator;
        }
        return prev;
    }

    @Override
    public float[] addNoise(float[] original, float[] noise, int callIndex) {
        checkCall(callIndex, original, noise);
        return DdpmNoise.add(schedule, (int) timesteps[callIndex], original, noise);
    }

    private static float sqrt(float x) {
        return (float) Math.sqrt(x);
    }
}
