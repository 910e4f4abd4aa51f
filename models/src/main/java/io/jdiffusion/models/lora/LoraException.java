package io.jdiffusion.models.lora;

import io.jdiffusion.core.OneLine;
import io.jdiffusion.models.config.ModelLoadException;

/**
 * A LoRA that cannot be applied: a file that is not a LoRA, keys that name no module of the model, shapes
 * that do not fit, a tag naming a file that is not there. One line meant for the user, naming the file and
 * the offending tensor.
 */
public class LoraException extends ModelLoadException {
    /** @param message the reason; tensor names echoed from the file are flattened so it stays one line */
    public LoraException(String message) {
        super(OneLine.flatten(message));
    }

    public LoraException(String message, Throwable cause) {
        super(OneLine.flatten(message), cause);
    }
}
