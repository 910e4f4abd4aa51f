package io.jdiffusion.models.prompt;

import io.jdiffusion.core.OneLine;

/**
 * A prompt that cannot be used as written: an attention weight that is not a number, a malformed
 * {@code <lora:...>} tag. The message names the offending text and is meant to be shown to the user as is.
 */
public class PromptException extends RuntimeException {
    /** @param message the reason; line breaks in echoed prompt text are flattened so it stays one line */
    public PromptException(String message) {
        super(OneLine.flatten(message));
    }
}
