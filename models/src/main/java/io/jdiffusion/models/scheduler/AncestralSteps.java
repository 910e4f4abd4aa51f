package io.jdiffusion.models.scheduler;

/**
 * The {@link AncestralStep} split of every step of a chain (DPM2 a, DPM++ 2S a): step k goes from
 * {@code sigmas[k]} towards {@code down[k]} and then adds {@code up[k]} times fresh noise.
 */
record AncestralSteps(float[] up, float[] down) {

    /**
     * The splits of the first {@code n} steps of {@code sigmas}; {@code capped} takes k-diffusion's form
     * ({@link AncestralStep#capped}), else diffusers' ({@link AncestralStep#of}).
     */
    static AncestralSteps of(float[] sigmas, int n, boolean capped) {
        float[] up = new float[n];
        float[] down = new float[n];
        for (int k = 0; k < n; k++) {
            AncestralStep split = capped ? AncestralStep.capped(sigmas[k], sigmas[k + 1]) : AncestralStep.of(sigmas[k], sigmas[k + 1]);
            up[k] = split.up();
            down[k] = split.down();
        }
        return new AncestralSteps(up, down);
    }

    /** Adds step k's noise {@code up[k] * z} to {@code prev} in place. */
    void addNoise(float[] prev, int k, float[] z) {
        for (int i = 0; i < prev.length; i++) {
            prev[i] = prev[i] + z[i] * up[k];
        }
    }
}
