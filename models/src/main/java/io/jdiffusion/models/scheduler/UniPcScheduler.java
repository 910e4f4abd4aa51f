package io.jdiffusion.models.scheduler;

import io.jdiffusion.models.rng.NoiseSource;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * diffusers' {@code UniPCMultistepScheduler} (Zhao et al. 2023, "UniPC"), with its defaults: data prediction
 * (predict_x0), B(h) = e^h - 1 ("bh2", or B(h) = h as "bh1"), solver order 2, lower order at the final
 * step. Each step first corrects the sample it is given with the model output just computed there (UniC,
 * which raises the order by one), then predicts the next sample from the last two x0 estimates (UniP), in
 * log-SNR time as DPM-Solver++. One UNet call per step; timesteps and sigmas as DPM-Solver's
 * ({@link MultistepChain}).
 *
 * <p>For order 2, with {@code r = (lambda_prev - lambda_s0) / h}, {@code D1 = (m_prev - m0) / r} and
 * {@code hh = -h}: the predictor adds {@code -alpha_t B(h) 0.5 D1} to the first-order update; the corrector
 * solves {@code [[1, 1], [r, 1]] rho = [phi2 / B(h), 2 phi3 / B(h)]} (phi2 = expm1(hh) / hh - 1,
 * phi3 = phi2 / hh - 1/2) and adds {@code -alpha_t B(h) (rho0 D1 + rho1 (m_t - m0))}.
 */
final class UniPcScheduler extends AbstractScheduler {
    private final PredictionType prediction;
    private final TimestepSpacing spacing;
    private final int stepsOffset;
    private final int solverOrder;
    private final boolean bh2;
    private final boolean lowerOrderFinal;
    private final boolean finalSigmaZero;
    private final boolean karras;
    private final boolean exponential;
    private final Set<Integer> disableCorrector = new HashSet<>();

    private float[] sigmas;
    /** Converted model outputs (x0 estimates) of the last steps, newest last. */
    private float[][] modelOutputs;
    private float[] lastSample;
    private int lowerOrderNums;
    private int thisOrder;

    UniPcScheduler(SchedulerConfig config) {
        super("unipc", NoiseSchedule.fromConfig(config, NoiseSchedule.ZeroSnr.RESCALE_AND_CLAMP));
        this.prediction = PredictionType.fromConfig(config, name, PredictionType.EPSILON, PredictionType.V_PREDICTION,
                PredictionType.SAMPLE);
        this.spacing = TimestepSpacing.fromConfig(config, "linspace");
        this.stepsOffset = config.integer("steps_offset", 0);
        this.solverOrder = config.integer("solver_order", 2);
        if (solverOrder < 1 || solverOrder > 2) {
            throw new IllegalArgumentException(name + ": solver_order " + solverOrder + " is not supported (1 or 2)");
        }
        // diffusers maps DPM-Solver's names (midpoint, heun, logrho) to bh2
        this.bh2 = !config.choice("solver_type", "bh2", List.of("bh1", "bh2", "midpoint", "heun", "logrho")).equals("bh1");
        this.lowerOrderFinal = config.flag("lower_order_final", true);
        this.finalSigmaZero = config.choice("final_sigmas_type", "zero", List.of("zero", "sigma_min")).equals("zero");
        this.karras = config.flag("use_karras_sigmas", false);
        this.exponential = config.flag("use_exponential_sigmas", false);
        if (karras && exponential) {
            throw new IllegalArgumentException(name + ": use_karras_sigmas and use_exponential_sigmas exclude each other");
        }
        if (!config.flag("predict_x0", true)) {
            throw new IllegalArgumentException(name + ": predict_x0 = false (noise prediction) is not supported");
        }
        config.requireOff("thresholding", name);
        config.requireOff("use_beta_sigmas", name);
        config.requireOff("use_flow_sigmas", name);
        config.requireOff("use_dynamic_shifting", name);
        config.integerList("disable_corrector").forEach(disableCorrector::add);
    }

    @Override
    protected float[] chooseTimesteps(int steps) {
        modelOutputs = new float[solverOrder][];
        lastSample = null;
        lowerOrderNums = 0;
        thisOrder = 0;
        long[] spaced = spacing.dpmSolver(schedule.trainSteps(), schedule.trainSteps(), steps, stepsOffset);
        MultistepChain chain = MultistepChain.build(schedule, spaced, karras, exponential, true, finalSigmaZero);
        sigmas = chain.sigmas();
        return chain.timesteps();
    }

    @Override
    public float noiseLevel(int callIndex) {
        checkIndex(callIndex);
        return sigmas[callIndex];
    }

    @Override
    public float[] step(float[] modelOutput, int callIndex, float[] sample, NoiseSource noise) {
        checkCall(callIndex, sample, modelOutput);
        AlphaSigma s0 = AlphaSigma.of(sigmas[callIndex]);
        float[] x0 = prediction.denoisedVp(sample, modelOutput, s0.alpha(), s0.sigma());
        float[] current = sample;
        if (callIndex > 0 && !disableCorrector.contains(callIndex - 1) && lastSample != null) {
            current = correct(x0, callIndex);
        }
        System.arraycopy(modelOutputs, 1, modelOutputs, 0, solverOrder - 1);
        modelOutputs[solverOrder - 1] = x0;
        int order = lowerOrderFinal ? Math.min(solverOrder, timesteps.length - callIndex) : solverOrder;
        thisOrder = Math.min(order, lowerOrderNums + 1);
        lastSample = current;
        float[] prev = predict(current, callIndex);
        if (lowerOrderNums < solverOrder) {
            lowerOrderNums++;
        }
        predOriginal = x0;
        return prev;
    }

    /** UniP: the sample at sigmas[i + 1] from {@code x} at sigmas[i]. */
    private float[] predict(float[] x, int i) {
        AlphaSigma t = AlphaSigma.of(sigmas[i + 1]);
        AlphaSigma s0 = AlphaSigma.of(sigmas[i]);
        float h = t.lambda() - s0.lambda();
        float[] m0 = modelOutputs[solverOrder - 1];
        float hh = -h;
        float hPhi1 = (float) Math.expm1(hh);
        float bH = bh2 ? hPhi1 : hh;
        float sampleCoeff = t.sigma() / s0.sigma();
        float x0Coeff = t.alpha() * hPhi1;
        float[] out = new float[x.length];
        if (thisOrder == 2) {
            float[] m1 = modelOutputs[solverOrder - 2];
            float r = (AlphaSigma.of(sigmas[i - 1]).lambda() - s0.lambda()) / h;
            float resCoeff = t.alpha() * bH;
            for (int k = 0; k < out.length; k++) {
                float d1 = (m1[k] - m0[k]) / r;
                out[k] = (sampleCoeff * x[k] - x0Coeff * m0[k]) - resCoeff * (0.5f * d1);
            }
        } else {
            for (int k = 0; k < out.length; k++) {
                out[k] = sampleCoeff * x[k] - x0Coeff * m0[k];
            }
        }
        return out;
    }

    /** UniC: the sample {@code x_t} at sigmas[i], corrected with the model's x0 there ({@code modelT}). */
    private float[] correct(float[] modelT, int i) {
        AlphaSigma t = AlphaSigma.of(sigmas[i]);
        AlphaSigma s0 = AlphaSigma.of(sigmas[i - 1]);
        float h = t.lambda() - s0.lambda();
        float[] m0 = modelOutputs[solverOrder - 1];
        float hh = -h;
        float hPhi1 = (float) Math.expm1(hh);
        float bH = bh2 ? hPhi1 : hh;
        float hPhi2 = hPhi1 / hh - 1f;
        float sampleCoeff = t.sigma() / s0.sigma();
        float x0Coeff = t.alpha() * hPhi1;
        float resCoeff = t.alpha() * bH;
        float[] x = lastSample;
        float[] out = new float[x.length];
        if (thisOrder == 1) {
            for (int k = 0; k < out.length; k++) {
                float d1t = modelT[k] - m0[k];
                out[k] = (sampleCoeff * x[k] - x0Coeff * m0[k]) - resCoeff * (0.5f * d1t);
            }
            return out;
        }
        float[] m1 = modelOutputs[solverOrder - 2];
        float r = (AlphaSigma.of(sigmas[i - 2]).lambda() - s0.lambda()) / h;
        double b1 = hPhi2 / (double) bH;
        double b2 = (hPhi2 / hh - 0.5f) * 2.0 / bH;
        float rho0 = (float) ((b1 - b2) / (1 - r));
        float rho1 = (float) (b1 - rho0);
        for (int k = 0; k < out.length; k++) {
            float d1 = (m1[k] - m0[k]) / r;
            float d1t = modelT[k] - m0[k];
            out[k] = (sampleCoeff * x[k] - x0Coeff * m0[k]) - resCoeff * (rho0 * d1 + rho1 * d1t);
        }
        return out;
    }

    @Override
    public float[] addNoise(float[] original, float[] noise, int callIndex) {
        checkCall(callIndex, original, noise);
        return AlphaSigma.of(sigmas[callIndex]).noised(original, noise);
    }
}
