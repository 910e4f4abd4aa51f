package io.jdiffusion.models.prompt;

/**
 * A prompt that cannot be used as written: an attention weight that is not a number, a malformed
 * {@code <lora:...>} tag. The message names the offending text and is meant to be shown to the user as is.
 */
public class PromptException extends RuntimeException {
    public PromptException(String message) {
        super(message);
    }
}
