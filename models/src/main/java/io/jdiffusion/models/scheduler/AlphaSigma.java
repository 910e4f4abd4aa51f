package io.jdiffusion.models.scheduler;

/**
 * A variance-exploding noise level converted to variance-preserving coefficients, as diffusers'
 * {@code _sigma_to_alpha_sigma_t} does in float32: {@code alpha = 1 / sqrt(sigma^2 + 1)},
 * {@code sigma_t = sigma alpha}.
 */
record AlphaSigma(float alpha, float sigma) {
    static AlphaSigma of(float veSigma) {
        float alpha = 1f / (float) Math.sqrt(veSigma * veSigma + 1f);
        return new AlphaSigma(alpha, veSigma * alpha);
    }

    /** diffusers' {@code add_noise} at this level: {@code alpha x0 + sigma noise}. */
    float[] noised(float[] original, float[] noise) {
        float[] out = new float[original.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = alpha * original[i] + sigma * noise[i];
        }
        return out;
    }

    /** log-SNR {@code log(alpha) - log(sigma)}: +infinity at sigma 0, as torch computes it. */
    float lambda() {
        return (float) Math.log(alpha) - (float) Math.log(sigma);
    }
}
