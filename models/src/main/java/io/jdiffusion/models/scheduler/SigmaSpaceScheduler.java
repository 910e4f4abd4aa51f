package io.jdiffusion.models.scheduler;

import java.util.List;

/**
 * The k-diffusion family of diffusers (Euler, Euler ancestral, LMS): samples live in variance-exploding
 * space {@code x = x0 + sigma eps}, the UNet sees {@code x / sqrt(sigma^2 + 1)} and a fractional timestep,
 * and the chain starts from noise times {@code init_noise_sigma}. This class builds the sigmas as
 * diffusers does; a sampler adds only its {@link #step}.
 * <ul>
 *   <li>timesteps: float32 by the class's spacing (linspace by default: 999.0, 946.42, ..., 0.0);</li>
 *   <li>sigmas: {@code np.interp(timesteps, arange(T), training_sigmas)} in float64, then float32, with a
 *       final 0 (Euler can end at sigma_min instead);</li>
 *   <li>with Karras sigmas: {@link KarrasSigmas#sigmas} between the first and last interpolated sigma
 *       (or the config's sigma_min/sigma_max), and each timestep mapped back from its sigma.</li>
 * </ul>
 */
abstract class SigmaSpaceScheduler extends AbstractScheduler {
    protected final PredictionType prediction;
    private final TimestepSpacing spacing;
    private final int stepsOffset;
    private final boolean karras;
    private final Double configSigmaMin;
    private final Double configSigmaMax;
    private final boolean finalSigmaIsMin;
    /** n + 1 noise levels of the current chain, the last one 0 (or sigma_min). */
    protected float[] sigmas;

    SigmaSpaceScheduler(String name, SchedulerConfig config, NoiseSchedule.ZeroSnr zeroSnr, boolean karras,
                        boolean readsSigmaBounds, boolean readsFinalSigmasType, PredictionType... supported) {
        super(name, NoiseSchedule.fromConfig(config, zeroSnr));
        this.prediction = PredictionType.fromConfig(config, name, supported);
        this.spacing = TimestepSpacing.fromConfig(config, "linspace");
        this.stepsOffset = config.integer("steps_offset", 0);
        this.karras = karras || config.flag("use_karras_sigmas", false);
        config.requireOff("use_exponential_sigmas", name);
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
        double[] x = new double[timestepValues.length];
        for (int i = 0; i < x.length; i++) {
            x[i] = timestepValues[i];
        }
        double[] chain = NumpyMath.interpOnIntegerGrid(x, trainingSigmas);
        if (karras) {
            double sigmaMin = configSigmaMin != null ? configSigmaMin : chain[chain.length - 1];
            double sigmaMax = configSigmaMax != null ? configSigmaMax : chain[0];
            chain = KarrasSigmas.sigmas(sigmaMin, sigmaMax, steps);
            float[] logSigmas = KarrasSigmas.logOf(trainingSigmas);
            timestepValues = new float[chain.length];
            for (int i = 0; i < chain.length; i++) {
                timestepValues[i] = (float) KarrasSigmas.sigmaToTimestep(chain[i], logSigmas);
            }
        }
        sigmas = new float[chain.length + 1];
        for (int i = 0; i < chain.length; i++) {
            sigmas[i] = (float) chain[i];
        }
        sigmas[chain.length] = finalSigmaIsMin ? trainingSigmas[0] : 0f;
        resetChain();
        return timestepValues;
    }

    /** Clears the sampler's own state at the start of a chain. */
    protected void resetChain() {
    }

    /** The noise levels of the current chain (n + 1 values), for tests and previews. */
    final float[] sigmas() {
        return sigmas.clone();
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
        float sigma = sigmas[callIndex];
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
        float sigma = sigmas[callIndex];
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
}
