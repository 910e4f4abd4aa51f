package io.jdiffusion.models.conditioning;

import io.jdiffusion.models.tokenizer.ClipTokenizer;

import java.util.ArrayList;
import java.util.List;

/** The prompts of one request ([negative, prompt] under guidance) as one tokenizer reads them. */
final class PromptBatch {
    private PromptBatch() {
    }

    /** The prompts a request encodes: [negative, prompt] with classifier-free guidance, else [prompt]. */
    static List<String> prompts(ConditioningInput input) {
        return input.guided() ? List.of(input.negativePrompt(), input.prompt()) : List.of(input.prompt());
    }

    /** Token ids [prompts x maxLength], row by row. */
    static long[] ids(ClipTokenizer tokenizer, List<String> prompts) {
        int tokens = tokenizer.maxLength();
        long[] ids = new long[prompts.size() * tokens];
        for (int b = 0; b < prompts.size(); b++) {
            System.arraycopy(tokenizer.encode(prompts.get(b)), 0, ids, b * tokens, tokens);
        }
        return ids;
    }

    /** One warning per prompt longer than the tokenizer's sequence, as diffusers warns. */
    static List<String> truncationWarnings(ClipTokenizer tokenizer, List<String> prompts) {
        List<String> warnings = new ArrayList<>();
        for (String p : prompts) {
            int length = tokenizer.untruncatedLength(p);
            if (length > tokenizer.maxLength()) {
                warnings.add("prompt truncated to " + tokenizer.maxLength() + " tokens (it has " + length + "): \""
                        + p.substring(0, Math.min(60, p.length())) + (p.length() > 60 ? "..." : "") + "\"");
            }
        }
        return warnings;
    }
}
