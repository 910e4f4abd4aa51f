package io.jdiffusion.server.jobs;

/** A checkpoint that could not be loaded; the one loaded before stays loaded. The message names no local path. */
public final class CheckpointLoadException extends RuntimeException {
    public CheckpointLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
