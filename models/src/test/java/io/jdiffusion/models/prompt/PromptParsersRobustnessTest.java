package io.jdiffusion.models.prompt;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The prompt parsers on random strings made of the characters their grammars care about: every input either
 * parses or fails with {@link PromptException}, and an escaped ({@link PromptAttention#literal}) input always
 * parses to weight 1.
 */
class PromptParsersRobustnessTest {
    private static final String ALPHABET = "ab ()[]\\\\:.+-019<>=,BREAK\u00a0\u0663\ud835\udfcf_";

    private static String random(SplittableRandom rng) {
        int n = rng.nextInt(40);
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < n; i++) {
            s.append(ALPHABET.charAt(rng.nextInt(ALPHABET.length())));
        }
        return s.toString();
    }

    @Test
    void randomPromptsParseOrFailWithPromptException() {
        SplittableRandom rng = new SplittableRandom(2026);
        int parsed = 0;
        for (int i = 0; i < 5_000; i++) {
            String prompt = random(rng);
            try {
                assertThat(PromptAttention.parse(prompt)).isNotEmpty();
                assertThat(PromptAttention.parse(PromptAttention.literal(prompt)).stream()
                        .filter(w -> !w.isBreak()).map(WeightedText::weight)).allMatch(w -> w == 1.0);
                parsed++;
            } catch (PromptException expected) {
                assertThat(expected.getMessage()).contains("is not a number");
            }
            try {
                ExtraNetworkTags.parse(prompt);
            } catch (PromptException expected) {
                assertThat(expected.getMessage()).startsWith("LoRA tag <");
            }
        }
        assertThat(parsed).isGreaterThan(2_500);
    }
}
