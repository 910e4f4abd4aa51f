package io.jdiffusion.models.scheduler;

/**
 * How an ancestral step from sigma to sigma_next splits (k-diffusion's {@code get_ancestral_step}, eta 1):
 * the deterministic part aims at {@code down = sqrt(next^2 - up^2)}, then fresh noise of size
 * {@code up = sqrt(next^2 (sigma^2 - next^2) / sigma^2)} is added, so that the variance lands on next^2.
 * In float32, in diffusers' operation order.
 */
record AncestralStep(float up, float down) {

    static AncestralStep of(float sigma, float next) {
        float nextSq = next * next;
        float sigmaSq = sigma * sigma;
        float up = (float) Math.sqrt(nextSq * (sigmaSq - nextSq) / sigmaSq);
        return new AncestralStep(up, (float) Math.sqrt(nextSq - up * up));
    }

    /** k-diffusion's form, which also caps {@code up} at {@code next} (a no-op but for rounding). */
    static AncestralStep capped(float sigma, float next) {
        float up = Math.min(next, of(sigma, next).up);
        return new AncestralStep(up, (float) Math.sqrt(next * next - up * up));
    }
}
