package io.jdiffusion.models.scheduler;

import java.util.List;

/**
 * The training noise schedule: {@code betas} and {@code alphas_cumprod} over the training timesteps, in
 * float32 exactly as diffusers builds them with torch (so that sigmas and timesteps derived from them
 * match to the last bit):
 * <ul>
 *   <li>{@code linear}: {@code torch.linspace(beta_start, beta_end, T)}; {@code scaled_linear}: the same
 *       between the square roots, squared; torch's float linspace is {@code start + step * i} for the
 *       first half and {@code end - step * (T - 1 - i)} for the second, each a fused multiply-add;</li>
 *   <li>{@code squaredcos_cap_v2}: Nichol and Dhariwal's cosine schedule in double, capped at 0.999;</li>
 *   <li>{@code trained_betas} as given;</li>
 *   <li>{@code alphas_cumprod = cumprod(1 - betas)}, which torch accumulates in double and rounds per
 *       element.</li>
 * </ul>
 */
final class NoiseSchedule {
    static final List<String> BETA_SCHEDULES = List.of("linear", "scaled_linear", "squaredcos_cap_v2");

    private final float[] betas;
    private final float[] alphasCumprod;

    private NoiseSchedule(float[] betas, float[] alphasCumprod) {
        this.betas = betas;
        this.alphasCumprod = alphasCumprod;
    }

    /** How a scheduler class treats {@code rescale_betas_zero_snr}. */
    enum ZeroSnr {
        /** The class has no such parameter (PNDM, LMS): the key is ignored. */
        IGNORED,
        /** DDIM: the betas are rescaled, alphas_cumprod[-1] stays 0. */
        RESCALE,
        /** Euler, Euler a, DPM-Solver: rescaled, then alphas_cumprod[-1] = 2^-24 so that the largest sigma is finite. */
        RESCALE_AND_CLAMP
    }

    /**
     * The schedule a diffusers scheduler builds from its config (class defaults: 1000 steps, linear betas
     * from 1e-4 to 0.02).
     */
    static NoiseSchedule fromConfig(SchedulerConfig config, ZeroSnr zeroSnr) {
        int trainSteps = config.integer("num_train_timesteps", 1000);
        if (trainSteps < 2) {
            throw new IllegalArgumentException("scheduler config 'num_train_timesteps' must be >= 2, got " + trainSteps);
        }
        float[] trained = config.floatArray("trained_betas");
        float[] betas;
        if (trained != null) {
            if (trained.length != trainSteps) {
                throw new IllegalArgumentException("scheduler config 'trained_betas' has " + trained.length
                        + " values for num_train_timesteps " + trainSteps);
            }
            betas = trained;
        } else {
            double betaStart = config.number("beta_start", 0.0001);
            double betaEnd = config.number("beta_end", 0.02);
            betas = switch (config.choice("beta_schedule", "linear", BETA_SCHEDULES)) {
                case "linear" -> torchLinspace((float) betaStart, (float) betaEnd, trainSteps);
                case "scaled_linear" -> {
                    float[] roots = torchLinspace((float) Math.sqrt(betaStart), (float) Math.sqrt(betaEnd), trainSteps);
                    for (int i = 0; i < roots.length; i++) {
                        roots[i] = roots[i] * roots[i];
                    }
                    yield roots;
                }
                default -> cosineBetas(trainSteps);
            };
        }
        boolean rescale = zeroSnr != ZeroSnr.IGNORED && config.flag("rescale_betas_zero_snr", false);
        if (rescale) {
            betas = rescaleZeroTerminalSnr(betas);
        }
        float[] alphasCumprod = cumprodOfOneMinus(betas);
        if (rescale && zeroSnr == ZeroSnr.RESCALE_AND_CLAMP) {
            alphasCumprod[alphasCumprod.length - 1] = 0x1p-24f;
        }
        return new NoiseSchedule(betas, alphasCumprod);
    }

    /** torch.linspace for float32 on the CPU (its vectorised kernel fuses each step into an FMA). */
    static float[] torchLinspace(float start, float end, int steps) {
        float[] out = new float[steps];
        if (steps == 1) {
            out[0] = start;
            return out;
        }
        float step = (end - start) / (steps - 1);
        int halfway = steps / 2;
        for (int i = 0; i < steps; i++) {
            out[i] = i < halfway ? Math.fma(step, (float) i, start) : Math.fma(-step, (float) (steps - 1 - i), end);
        }
        return out;
    }

    /** diffusers' betas_for_alpha_bar with the cosine alpha-bar (in double, then float32, as torch.tensor). */
    private static float[] cosineBetas(int steps) {
        float[] betas = new float[steps];
        for (int i = 0; i < steps; i++) {
            double t1 = (double) i / steps;
            double t2 = (double) (i + 1) / steps;
            betas[i] = (float) Math.min(1 - cosineAlphaBar(t2) / cosineAlphaBar(t1), 0.999);
        }
        return betas;
    }

    private static double cosineAlphaBar(double t) {
        double c = StrictMath.cos((t + 0.008) / 1.008 * Math.PI / 2);
        return c * c;
    }

    /** cumprod(1 - betas), accumulated in double and rounded per element as torch's CPU cumprod does. */
    private static float[] cumprodOfOneMinus(float[] betas) {
        float[] out = new float[betas.length];
        double product = 1;
        for (int i = 0; i < betas.length; i++) {
            product *= 1f - betas[i];
            out[i] = (float) product;
        }
        return out;
    }

    /** Lin et al. 2023 (diffusers' rescale_zero_terminal_snr), in float32: the last timestep gets zero SNR. */
    private static float[] rescaleZeroTerminalSnr(float[] betas) {
        float[] cumprod = cumprodOfOneMinus(betas);
        int n = cumprod.length;
        float[] sqrtBar = new float[n];
        for (int i = 0; i < n; i++) {
            sqrtBar[i] = (float) Math.sqrt(cumprod[i]);
        }
        float first = sqrtBar[0];
        float last = sqrtBar[n - 1];
        float scale = first / (first - last);
        float[] bar = new float[n];
        for (int i = 0; i < n; i++) {
            float shifted = (sqrtBar[i] - last) * scale;
            bar[i] = shifted * shifted;
        }
        float[] rescaled = new float[n];
        rescaled[0] = 1f - bar[0];
        for (int i = 1; i < n; i++) {
            rescaled[i] = 1f - bar[i] / bar[i - 1];
        }
        return rescaled;
    }

    int trainSteps() {
        return betas.length;
    }

    float[] betas() {
        return betas.clone();
    }

    float[] alphasCumprod() {
        return alphasCumprod.clone();
    }

    float alphaCumprod(int t) {
        return alphasCumprod[t];
    }

    /** The training sigmas {@code ((1 - alphas_cumprod) / alphas_cumprod) ** 0.5} in float32, ascending in t. */
    float[] trainingSigmas() {
        float[] sigmas = new float[alphasCumprod.length];
        for (int t = 0; t < sigmas.length; t++) {
            float a = alphasCumprod[t];
            sigmas[t] = (float) Math.sqrt((1f - a) / a);
        }
        return sigmas;
    }
}
