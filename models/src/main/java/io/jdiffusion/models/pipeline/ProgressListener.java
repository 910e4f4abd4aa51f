package io.jdiffusion.models.pipeline;

/** Told about denoising progress, e.g. to drive a progress bar. */
public interface ProgressListener {
    ProgressListener NONE = new ProgressListener() {
    };

    /** Denoising is about to start {@code totalCalls} UNet calls. */
    default void started(int totalCalls) {
    }

    /** UNet call {@code index} (0-based) and its scheduler step are done. */
    default void stepDone(int index, int totalCalls) {
    }

    default void finished() {
    }
}
