package io.jdiffusion.models.scheduler;

import java.util.Arrays;
import java.util.List;

/**
 * The k-diffusion family of diffusers (Euler, Euler a, LMS, Heun, DPM2, DPM2 a, and DPM++ 2S a from
 * k-diffusion itself): samples live in variance-exploding space {@code x = x0 + sigma eps}, the UNet sees
 * {@code x / sqrt(sigma^2 + 1)} and a fractional timestep, and the chain starts from noise times
 * {@code init_noise_sigma}. This class builds the sigmas as diffusers does; a sampler adds its
 * {@link #step} and, when it calls the UNet more than once per step, its {@link #planCalls}.
 * <ul>
 *   <li>timesteps: float32 by the class's spacing (linspace by default: 999.0, 946.42, ..., 0.0);</li>
 *   <li>sigmas: {@code np.interp(timesteps, arange(T), training_sigmas)} in float64, then float32, with a
 *       final 0 (Euler can end at sigma_min instead);</li>
 *   <li>with Karras ({@code use_karras_sigmas}) or exponential ({@code use_exponential_sigmas}) sigmas:
 *       {@link KarrasSigmas} or {@link ExponentialSigmas} between the first and last interpolated sigma (or
 *       the config's sigma_min/sigma_max), and each timestep mapped back from its sigma.</li>
 * </ul>
 */
abstract class SigmaSpaceScheduler extends AbstractScheduler {
    protected final PredictionType prediction;
    private final TimestepSpacing spacing;
    private final int stepsOffset;
    private final boolean karras;
    private final boolean exponential;
    private final Double configSigmaMin;
    private final Double configSigmaMax;
    private final boolean finalSigmaIsMin;
    /** n + 1 noise levels of the current chain, the last one 0 (or sigma_min). */
    protected float[] sigmas;
    /** The training log-sigmas (float32, ascending), for mapping intermediate sigmas to timesteps. */
    protected float[] logTrainingSigmas;
    /** The noise level of the UNet's input at each call. */
    private float[] callSigmas;

    SigmaSpaceScheduler(String name, SchedulerConfig config, NoiseSchedule.ZeroSnr zeroSnr,
                        boolean readsSigmaBounds, boolean readsFinalSigmasType, PredictionType... supported) {
        super(name, NoiseSchedule.fromConfig(config, zeroSnr));
        this.prediction = PredictionType.fromConfig(config, name, supported);
        this.spacing = TimestepSpacing.fromConfig(config, "linspace");
        this.stepsOffset = config.integer("steps_offset", 0);
        this.karras = config.flag("use_karras_sigmas", false);
        this.exponential = config.flag("use_exponential_sigmas", false);
        if (karras && exponential) {
            throw new IllegalArgumentException(name + ": use_karras_sigmas and use_exponential_sigmas exclude each other");
        }
        config.requireOff("use_beta_sigmas", name);
        this.configSigmaMin = readsSigmaBounds ? config.optionalNumber("sigma_min") : null;
        this.configSigmaMax = readsSigmaBounds ? config.optionalNumber("sigma_max") : null;
        this.finalSigmaIsMin = readsFinalSigmasType
                && config.choice("final_sigmas_type", "zero", List.of("zero", "sigma_min")).equals("sigma_min");
    }

    @Override
    protected final float[] chooseTimesteps(int steps) {
        float[] timestepValues = spacing.continuous(schedule.trainSteps(), steps, stepsOffset);
        float[] trainingSigmas = schedule.trainingSigmas();
        logTrainingSigmas = KarrasSigmas.logOf(trainingSigmas);
        double[] x = new double[timestepValues.length];
        for (int i = 0; i < x.length; i++) {
            x[i] = timestepValues[i];
        }
        double[] chain = NumpyMath.interpOnIntegerGrid(x, trainingSigmas);
        if (karras || exponential) {
            double sigmaMin = configSigmaMin != null ? configSigmaMin : chain[chain.length - 1];
            double sigmaMax = configSigmaMax != null ? configSigmaMax : chain[0];
            chain = karras ? KarrasSigmas.sigmas(sigmaMin, sigmaMax, steps) : ExponentialSigmas.sigmas(sigmaMin, sigmaMax, steps);
            timestepValues = new float[chain.length];
            for (int i = 0; i < chain.length; i++) {
                double t = KarrasSigmas.sigmaToTimestep(chain[i], logTrainingSigmas);
                timestepValues[i] = (float) (karras && roundsKarrasTimesteps() ? NumpyMath.round(t) : t);
            }
        }
        sigmas = new float[chain.length + 1];
        for (int i = 0; i < chain.length; i++) {
            sigmas[i] = (float) chain[i];
        }
        sigmas[chain.length] = finalSigmaIsMin ? trainingSigmas[0] : 0f;
        resetChain();
        CallPlan plan = planCalls(timestepValues);
        if (plan.timesteps().length != plan.sigmas().length) {
            throw new AssertionError(name + ": a call plan needs one sigma per timestep");
        }
        callSigmas = plan.sigmas();
        return plan.timesteps();
    }

    /** The UNet calls of a chain: each call's timestep and the noise level of its input. */
    protected record CallPlan(float[] timesteps, float[] sigmas) {
    }

    /**
     * The calls of a chain whose steps' timesteps are {@code stepTimesteps} (with {@link #sigmas} set): one
     * call per step at the step's own sigma, unless the sampler evaluates the model between steps too.
     */
    protected CallPlan planCalls(float[] stepTimesteps) {
        return new CallPlan(stepTimesteps, Arrays.copyOf(sigmas, stepTimesteps.length));
    }

    /** DPM2 rounds the timesteps of Karras sigmas to integers; the others keep them fractional. */
    protected boolean roundsKarrasTimesteps() {
        return false;
    }

    /** The fractional training timestep of an intermediate sigma (diffusers' {@code _sigma_to_t}). */
    protected final float timestepOf(float sigma) {
        return (float) KarrasSigmas.sigmaToTimestep(sigma, logTrainingSigmas);
    }

    /** Clears the sampler's own state at the start of a chain. */
    protected void resetChain() {
    }

    /** The noise levels of the current chain (n + 1 values), for tests and previews. */
    final float[] sigmas() {
        return sigmas.clone();
    }

    @Override
    public float noiseLevel(int callIndex) {
        checkIndex(callIndex);
        return callSigmas[callIndex];
    }

    @Override
    public float initNoiseSigma() {
        if (sigmas == null) {
            throw new IllegalStateException(name + ": call setTimesteps before initNoiseSigma");
        }
        float max = Float.NEGATIVE_INFINITY;
        for (float s : sigmas) {
            max = Math.max(max, s);
        }
        return spacing == TimestepSpacing.LEADING ? (float) Math.sqrt(max * max + 1f) : max;
    }

    @Override
    public final float[] scaleModelInput(float[] sample, int callIndex) {
        checkCall(callIndex, sample);
        float sigma = callSigmas[callIndex];
        float divisor = (float) Math.sqrt(sigma * sigma + 1f);
        float[] out = new float[sample.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = sample[i] / divisor;
        }
        return out;
    }

    @Override
    public final float[] addNoise(float[] original, float[] noise, int callIndex) {
        checkCall(callIndex, original, noise);
        float sigma = callSigmas[callIndex];
        float[] out = new float[original.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = original[i] + noise[i] * sigma;
        }
        return out;
    }

    /** {@code (sample - x0) / sigma}: the ODE's derivative dx/dsigma at this step. */
    protected static float[] derivative(float[] sample, float[] x0, float sigma) {
        float[] d = new float[sample.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = (sample[i] - x0[i]) / sigma;
        }
        return d;
    }

    /** {@code from + d * dt}, element by element. */
    protected static float[] eulerStep(float[] from, float[] d, float dt) {
        float[] out = new float[from.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = from[i] + d[i] * dt;
        }
        return out;
    }

    /** diffusers' second-order interleaving: {@code [a0, a1, a1, a2, a2, ...]} of length {@code 2n - 1}. */
    protected static float[] interleave(float[] firstCalls, float[] secondCalls) {
        int n = firstCalls.length;
        float[] out = new float[2 * n - 1];
        for (int k = 0; k < n; k++) {
            out[2 * k] = firstCalls[k];
            if (k < n - 1) {
                out[2 * k + 1] = secondCalls[k];
            }
        }
        return out;
    }
}
