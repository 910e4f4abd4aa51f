package io.jdiffusion.models.scheduler;

import java.util.ArrayList;
import java.util.List;

/**
 * What the UNet predicts (diffusers' {@code prediction_type}), and how a sampler turns that into the
 * clean-sample estimate x0. Two coordinate systems occur:
 * <ul>
 *   <li>variance-preserving samples {@code x = alpha x0 + sigma eps} with {@code alpha^2 + sigma^2 = 1}
 *       (DDIM, PNDM, DPM-Solver), and</li>
 *   <li>variance-exploding samples {@code x = x0 + s eps} with {@code s = sigma / alpha} (Euler, Euler a,
 *       LMS), whose UNet input is scaled by {@code 1 / sqrt(s^2 + 1)}.</li>
 * </ul>
 * Each formula keeps diffusers' float32 operation order, element by element.
 */
enum PredictionType {
    EPSILON("epsilon"), V_PREDICTION("v_prediction"), SAMPLE("sample");

    private final String configName;

    PredictionType(String configName) {
        this.configName = configName;
    }

    /** The config's {@code prediction_type} (default epsilon), which must be one of {@code supported}. */
    static PredictionType fromConfig(SchedulerConfig config, String scheduler, PredictionType... supported) {
        String value = config.text("prediction_type", "epsilon");
        // diffusers' Euler accepts "original_sample" as a synonym of "sample"
        String canonical = value.equals("original_sample") ? "sample" : value;
        List<String> names = new ArrayList<>();
        for (PredictionType type : supported) {
            names.add(type.configName);
            if (type.configName.equals(canonical)) {
                return type;
            }
        }
        throw new IllegalArgumentException("scheduler config 'prediction_type' is '" + value + "'; " + scheduler
                + " supports " + names);
    }

    /** x0 from a variance-exploding sample at noise level {@code sigma} (Euler, Euler a, LMS). */
    float[] denoisedVe(float[] sample, float[] output, float sigma) {
        float[] x0 = new float[sample.length];
        switch (this) {
            case EPSILON -> {
                for (int i = 0; i < x0.length; i++) {
                    x0[i] = sample[i] - sigma * output[i];
                }
            }
            case V_PREDICTION -> {
                float sigmaSqPlusOne = sigma * sigma + 1f;
                float outputScale = -sigma / (float) Math.sqrt(sigmaSqPlusOne);
                for (int i = 0; i < x0.length; i++) {
                    x0[i] = output[i] * outputScale + sample[i] / sigmaSqPlusOne;
                }
            }
            case SAMPLE -> System.arraycopy(output, 0, x0, 0, x0.length);
        }
        return x0;
    }

    /**
     * x0 from a variance-preserving sample with {@code sqrtAlpha = alpha} and {@code sigma} (DDIM and DPM-Solver
     * pass alpha_t and sigma_t; DDIM's are sqrt(alphas_cumprod) and sqrt(1 - alphas_cumprod)).
     */
    float[] denoisedVp(float[] sample, float[] output, float alpha, float sigma) {
        float[] x0 = new float[sample.length];
        switch (this) {
            case EPSILON -> {
                for (int i = 0; i < x0.length; i++) {
                    x0[i] = (sample[i] - sigma * output[i]) / alpha;
                }
            }
            case V_PREDICTION -> {
                for (int i = 0; i < x0.length; i++) {
                    x0[i] = alpha * sample[i] - sigma * output[i];
                }
            }
            case SAMPLE -> System.arraycopy(output, 0, x0, 0, x0.length);
        }
        return x0;
    }

    /** The noise estimate eps from a variance-preserving sample, given the x0 this type derived. */
    float[] noiseVp(float[] sample, float[] output, float[] x0, float alpha, float sigma) {
        float[] eps = new float[sample.length];
        switch (this) {
            case EPSILON -> System.arraycopy(output, 0, eps, 0, eps.length);
            case V_PREDICTION -> {
                for (int i = 0; i < eps.length; i++) {
                    eps[i] = alpha * output[i] + sigma * sample[i];
                }
            }
            case SAMPLE -> {
                for (int i = 0; i < eps.length; i++) {
                    eps[i] = (sample[i] - alpha * x0[i]) / sigma;
                }
            }
        }
        return eps;
    }
}
