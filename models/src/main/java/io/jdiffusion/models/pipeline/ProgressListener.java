package io.jdiffusion.models.pipeline;

/** Told about denoising progress, e.g. to drive a progress bar. */
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

    default void finished() {
    }
}
