package io.jdiffusion.models.config;

/**
 * A model that cannot be loaded: a missing or corrupt file, an unsupported configuration, or weights
 * that do not fit the architecture. The message says what is wrong and, where there is one, what to
 * supply instead; it is meant to be shown to the user as is.
 */
public class ModelLoadException extends RuntimeException {
    public ModelLoadException(String message) {
        super(message);
    }

    public ModelLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
