package io.jdiffusion.models.conditioning;

import java.util.List;

/** The prompts of one request: [negative, prompt] under guidance. */
final class PromptBatch {
    private PromptBatch() {
    }

    /** The prompts a request encodes: [negative, prompt] with classifier-free guidance, else [prompt]. */
    static List<String> prompts(ConditioningInput input) {
        return input.guided() ? List.of(input.negativePrompt(), input.prompt()) : List.of(input.prompt());
    }
}
