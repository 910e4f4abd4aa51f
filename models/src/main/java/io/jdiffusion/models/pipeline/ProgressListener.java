package io.jdiffusion.models.pipeline;

/** Told about denoising progress, e.g. to drive a progress bar; may ask the loop to stop early. */
public interface ProgressListener {
    ProgressListener NONE = new ProgressListener() {
    };

    /** Denoising is about to start {@code totalCalls} UNet calls. */
    default void started(int totalCalls) {
    }

    /**
     * Denoising is about to start {@code totalCalls} UNet calls for {@code steps} steps: PNDM's first step
     * calls the UNet twice, so it makes one call more than steps.
     */
    default void started(int totalCalls, int steps) {
        started(totalCalls);
    }

    /** UNet call {@code index} (0-based) and its scheduler step are done. */
    default void stepDone(int index, int totalCalls) {
    }

    /**
     * The latents [1, channels, height, width] after UNet call {@code index} (before division by the VAE
     * scaling factor), e.g. for a live preview. The array is the pipeline's own: read it here, copy what
     * must outlive the call.
     */
    default void latentsAfterStep(int index, float[] latents, int channels, int height, int width) {
    }

    /**
     * Asked before every UNet call: true ends denoising there, and the pipeline decodes the latents it has
     * (a web UI's interrupt or skip: the client gets the partly denoised image, as AUTOMATIC1111 gives it).
     */
    default boolean stopRequested() {
        return false;
    }

    default void finished() {
    }
}
