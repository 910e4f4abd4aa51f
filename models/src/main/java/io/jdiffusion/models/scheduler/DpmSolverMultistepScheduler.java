package io.jdiffusion.models.scheduler;

import io.jdiffusion.models.rng.NoiseSource;

import java.util.List;

/**
 * diffusers' {@code DPMSolverMultistepScheduler} as "DPM++ 2M" (Lu et al. 2022, "DPM-Solver++"): algorithm
 * dpmsolver++ (the model output is turned into x0), solver order 2, in log-SNR time
 * {@code lambda = log(alpha) - log(sigma)}. The first step, and the last (final sigma 0, or fewer than 15
 * steps with lower_order_final), are first order:
 * {@code x_t = (sigma_t / sigma_s) x - alpha_t (e^-h - 1) x0}; the others add the midpoint (or Heun)
 * correction from the previous x0. Its timesteps are integers: linspace(0, T - 1, n + 1) rounded, the
 * last dropped (999, 949, ..., 549, 500, 450, ..., 50 for 20 steps).
 *
 * <p>As "DPM++ 2M SDE" ({@code sde}: algorithm sde-dpmsolver++) every step also draws noise:
 * {@code x_t = (sigma_t / sigma_s) e^-h x + alpha_t (1 - e^-2h) x0 (+ correction) + sigma_t sqrt(1 - e^-2h) noise}.
 *
 * <p>The config's solver_type (midpoint, heun), lower_order_final, euler_at_final, final_sigmas_type,
 * lambda_min_clipped, use_karras_sigmas and use_exponential_sigmas are honoured; algorithm_type and
 * solver_order are fixed by the name (2). Thresholding, learned variance, Lu lambdas and flow sigmas are
 * not implemented.
 */
final class DpmSolverMultistepScheduler extends AbstractScheduler {
    private static final int SOLVER_ORDER = 2;

    private final boolean sde;
    private final PredictionType prediction;
    private final TimestepSpacing spacing;
    private final int stepsOffset;
    private final boolean heun;
    private final boolean lowerOrderFinal;
    private final boolean eulerAtFinal;
    private final boolean finalSigmaZero;
    private final double lambdaMinClipped;
    private final boolean karras;
    private final boolean exponential;
    private final boolean roundKarrasTimesteps;

    private float[] sigmas;
    /** x0 of the previous step (model_outputs[-2] in diffusers), null at the start of a chain. */
    private float[] previousX0;
    private int lowerOrderNums;

    DpmSolverMultistepScheduler(SchedulerConfig config, boolean sde) {
        super(sde ? "dpmpp_2m_sde" : "dpmpp_2m", NoiseSchedule.fromConfig(config, NoiseSchedule.ZeroSnr.RESCALE_AND_CLAMP));
        this.sde = sde;
        this.prediction = PredictionType.fromConfig(config, name, PredictionType.EPSILON, PredictionType.V_PREDICTION,
                PredictionType.SAMPLE);
        this.spacing = TimestepSpacing.fromConfig(config, "linspace");
        this.stepsOffset = config.integer("steps_offset", 0);
        this.heun = config.choice("solver_type", "midpoint", List.of("midpoint", "heun", "logrho", "bh1", "bh2"))
                .equals("heun"); // diffusers maps logrho, bh1 and bh2 (UniPC's names) to midpoint
        this.lowerOrderFinal = config.flag("lower_order_final", true);
        this.eulerAtFinal = config.flag("euler_at_final", false);
        this.finalSigmaZero = config.choice("final_sigmas_type", "zero", List.of("zero", "sigma_min")).equals("zero");
        this.lambdaMinClipped = config.number("lambda_min_clipped", Double.NEGATIVE_INFINITY);
        this.karras = config.flag("use_karras_sigmas", false);
        this.exponential = config.flag("use_exponential_sigmas", false);
        if (karras && exponential) {
            throw new IllegalArgumentException(name + ": use_karras_sigmas and use_exponential_sigmas exclude each other");
        }
        this.roundKarrasTimesteps = !config.text("beta_schedule", "linear").equals("squaredcos_cap_v2");
        config.requireOff("thresholding", name);
        config.requireOff("use_lu_lambdas", name);
        config.requireOff("use_beta_sigmas", name);
        config.requireOff("use_flow_sigmas", name);
        config.requireOff("use_dynamic_shifting", name);
        if (config.has("variance_type")) {
            throw new IllegalArgumentException(name + ": a learned variance_type is not supported");
        }
    }

    @Override
    protected float[] chooseTimesteps(int steps) {
        previousX0 = null;
        lowerOrderNums = 0;
        long[] spaced = spacing.dpmSolver(schedule.trainSteps(), lastTimestep(), steps, stepsOffset);
        MultistepChain chain = MultistepChain.build(schedule, spaced, karras, exponential, roundKarrasTimesteps, finalSigmaZero);
        sigmas = chain.sigmas();
        return chain.timesteps();
    }

    /**
     * T minus the number of training steps whose log-SNR is below lambda_min_clipped (torch.searchsorted on
     * the flipped lambdas); T when it is -infinity, the default.
     */
    private int lastTimestep() {
        int trainSteps = schedule.trainSteps();
        if (lambdaMinClipped == Double.NEGATIVE_INFINITY) {
            return trainSteps;
        }
        int clipped = 0;
        for (int t = trainSteps - 1; t >= 0; t--) {
            float a = schedule.alphaCumprod(t);
            float lambda = (float) Math.log((float) Math.sqrt(a)) - (float) Math.log((float) Math.sqrt(1f - a));
            if (lambda < lambdaMinClipped) {
                clipped++;
            } else {
                break;
            }
        }
        return trainSteps - clipped;
    }

    /** The noise levels of the current chain (n + 1 values). */
    float[] sigmas() {
        return sigmas.clone();
    }

    @Override
    public float noiseLevel(int callIndex) {
        checkIndex(callIndex);
        return sigmas[callIndex];
    }

    @Override
    public float[] step(float[] modelOutput, int callIndex, float[] sample, NoiseSource noise) {
        checkCall(callIndex, sample, modelOutput);
        int n = timesteps.length;
        boolean firstOrderFinal = callIndex == n - 1 && (eulerAtFinal || (lowerOrderFinal && n < 15) || finalSigmaZero);

        AlphaSigma s0 = AlphaSigma.of(sigmas[callIndex]);
        float[] x0 = prediction.denoisedVp(sample, modelOutput, s0.alpha(), s0.sigma());
        float[] z = sde ? drawNoise(noise, sample.length) : null;
        AlphaSigma t = AlphaSigma.of(sigmas[callIndex + 1]);
        float h = t.lambda() - s0.lambda();
        float expMinusH = (float) Math.exp(-h);
        float expMinusHMinusOne = expMinusH - 1f;
        // ODE: x_t = (sigma_t / sigma_s) x - alpha_t (e^-h - 1) x0; SDE: (sigma_t / sigma_s) e^-h x + alpha_t (1 - e^-2h) x0
        float sampleCoeff = sde ? t.sigma() / s0.sigma() * expMinusH : t.sigma() / s0.sigma();
        float oneMinusExpMinus2H = 1f - (float) Math.exp(-2f * h);
        float x0Coeff = sde ? -(t.alpha() * oneMinusExpMinus2H) : t.alpha() * expMinusHMinusOne;
        float noiseCoeff = sde ? t.sigma() * (float) Math.sqrt(oneMinusExpMinus2H) : 0f;

        float[] prev = new float[sample.length];
        if (lowerOrderNums < 1 || firstOrderFinal) {
            for (int i = 0; i < prev.length; i++) {
                prev[i] = sampleCoeff * sample[i] - x0Coeff * x0[i];
            }
        } else {
            AlphaSigma s1 = AlphaSigma.of(sigmas[callIndex - 1]);
            float h0 = s0.lambda() - s1.lambda();
            float r0 = h0 / h;
            float differenceCoeff = 1f / r0;
            float correctionCoeff = correctionCoefficient(t, h, expMinusHMinusOne, oneMinusExpMinus2H, x0Coeff);
            for (int i = 0; i < prev.length; i++) {
                float d1 = differenceCoeff * (x0[i] - previousX0[i]);
                prev[i] = sampleCoeff * sample[i] - x0Coeff * x0[i] + correctionCoeff * d1;
            }
        }
        if (sde) {
            for (int i = 0; i < prev.length; i++) {
                prev[i] = prev[i] + noiseCoeff * z[i];
            }
        }
        if (lowerOrderNums < SOLVER_ORDER) {
            lowerOrderNums++;
        }
        previousX0 = x0;
        predOriginal = x0;
        return prev;
    }

    /** The coefficient of D1 = (x0 - x0_prev) / r0 in the second-order update (added to the first-order one). */
    private float correctionCoefficient(AlphaSigma t, float h, float expMinusHMinusOne, float oneMinusExpMinus2H,
                                        float x0Coeff) {
        if (sde) {
            return heun ? t.alpha() * (oneMinusExpMinus2H / (-2f * h) + 1f) : 0.5f * (t.alpha() * oneMinusExpMinus2H);
        }
        return heun ? t.alpha() * (expMinusHMinusOne / h + 1f) : -(0.5f * x0Coeff);
    }

    @Override
    public float[] addNoise(float[] original, float[] noise, int callIndex) {
        checkCall(callIndex, original, noise);
        return AlphaSigma.of(sigmas[callIndex]).noised(original, noise);
    }
}
