package io.jdiffusion.models.prompt;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link PromptAttention} against A1111's {@code parse_prompt_attention}: the examples of its docstring, then
 * edge cases whose expected values are what A1111's function returns for them (Python floats printed with
 * repr, so the weights compare exactly).
 */
class PromptAttentionTest {
    private static Arguments c(String prompt, Object... textWeightPairs) {
        List<WeightedText> expected = new ArrayList<>();
        for (int i = 0; i < textWeightPairs.length; i += 2) {
            expected.add(new WeightedText((String) textWeightPairs[i], (Double) textWeightPairs[i + 1]));
        }
        return Arguments.of(prompt, expected);
    }

    static Stream<Arguments> docstringExamples() {
        return Stream.of(
                c("normal text", "normal text", 1.0),
                c("an (important) word", "an ", 1.0, "important", 1.1, " word", 1.0),
                c("(unbalanced", "unbalanced", 1.1),
                c("\\(literal\\]", "(literal]", 1.0),
                c("(unnecessary)(parens)", "unnecessaryparens", 1.1),
                c("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
                        "a ", 1.0, "house", 1.5730000000000004, " ", 1.1, "on", 1.0, " a ", 1.1, "hill", 0.55,
                        ", sun, ", 1.1, "sky", 1.4641000000000006, ".", 1.1));
    }

    static Stream<Arguments> edgeCases() {
        return Stream.of(
                c("", "", 1.0),
                c("((a))", "a", 1.2100000000000002),
                c("[[a]]", "a", 0.8264462809917354),
                c("(a:1.5) b", "a", 1.5, " b", 1.0),
                // an explicit weight only closes a round bracket; in square brackets it is text
                c("[a:1.5]", "a:1.5", 0.9090909090909091),
                c("a:1.5)", "a:1.5)", 1.0),
                c("(a:-0.5)", "a", -0.5),
                c("(a:+.5)", "a", 0.5),
                c("(a:1.)", "a", 1.0),
                // A1111's pattern has no space after the colon: "(a: 1.2)" is text in a plain bracket
                c("(a: 1.2)", "a: 1.2", 1.1),
                c("a BREAK b", "a", 1.0, "BREAK", -1.0, "b", 1.0),
                c("aBREAK b", "aBREAK b", 1.0),
                c("a BREAKb", "a BREAKb", 1.0),
                c("a_BREAK b", "a_BREAK b", 1.0),
                c("a  BREAK\n b", "a", 1.0, "BREAK", -1.0, "b", 1.0),
                c("a\u00a0BREAK\u00a0b", "a", 1.0, "BREAK", -1.0, "b", 1.0),
                c("\u00e9 BREAK", "\u00e9", 1.0, "BREAK", -1.0, "", 1.0),
                c("BREAK", "", 1.0, "BREAK", -1.0, "", 1.0),
                c("a BREAK BREAK b", "a", 1.0, "BREAK", -1.0, "", 1.0, "BREAK", -1.0, "b", 1.0),
                // brackets multiply a BREAK's -1 too, after which A1111 reads it as the text "BREAK"
                c("(a BREAK b)", "a", 1.1, "BREAK", -1.1, "b", 1.1),
                c("[a BREAK b]", "a", 0.9090909090909091, "BREAK", -0.9090909090909091, "b", 0.9090909090909091),
                c("(BREAK)", "", 1.1, "BREAK", -1.1, "", 1.1),
                c("(a)BREAK(b)", "a", 1.1, "", 1.0, "BREAK", -1.0, "", 1.0, "b", 1.1),
                c("a\\b", "ab", 1.0),
                c("a\\", "a", 1.0),
                c("\\\\x", "\\x", 1.0),
                c("a]b)c", "a]b)c", 1.0),
                c("(a [b] c)", "a ", 1.1, "b", 1.0, " c", 1.1),
                c("((a:2)(b:3))", "a", 2.2, "b", 3.3000000000000003),
                c("x (a:1.1) y (b:1.1)", "x ", 1.0, "a", 1.1, " y ", 1.0, "b", 1.1),
                c("a:b:c", "a:b:c", 1.0),
                c("(a:\u0663)", "a", 3.0),
                c(":)", ":)", 1.0),
                c("((a:0.5):2)", "a", 1.0),
                c("(a:0)", "a", 0.0),
                c("(a:0) (b:-0)", "a", 0.0, " ", 1.0, "b", -0.0));
    }

    @ParameterizedTest
    @MethodSource({"docstringExamples", "edgeCases"})
    void parsesAsA1111(String prompt, List<WeightedText> expected) {
        assertThat(PromptAttention.parse(prompt)).containsExactlyElementsOf(expected);
    }

    @ParameterizedTest
    @ValueSource(strings = {"(a:.)", "(a:1.2.3)", "((a:..5))"})
    void rejectsWeightsPythonCannotRead(String prompt) {
        assertThatThrownBy(() -> PromptAttention.parse(prompt)).isInstanceOf(PromptException.class)
                .hasMessageContaining("is not a number");
    }

    @Test
    void onlyTheExactBreakPairStartsAChunk() {
        assertThat(WeightedText.BREAK.isBreak()).isTrue();
        assertThat(new WeightedText("BREAK", -1.1).isBreak()).isFalse();
        assertThat(new WeightedText("BREAK", 1.0).isBreak()).isFalse();
    }

    @ParameterizedTest
    @ValueSource(strings = {"hello, world! (masterpiece:1.2), [best quality]; 'quoted'", "a \\( b \\", "((x)) [y]", ":)", ""})
    void literalTextParsesToItselfWithWeightOne(String text) {
        assertThat(PromptAttention.parse(PromptAttention.literal(text))).containsExactly(new WeightedText(text, 1.0));
    }

    @Test
    void rejectsNull() {
        assertThatThrownBy(() -> PromptAttention.parse(null)).isInstanceOf(PromptException.class);
    }
}
