package io.jdiffusion.models.prompt;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * A1111's emphasis syntax, parsed exactly as {@code modules/prompt_parser.py}'s
 * {@code parse_prompt_attention} does:
 * <ul>
 *   <li>{@code (abc)} multiplies the weight of abc by 1.1, {@code [abc]} divides it by 1.1, {@code (abc:1.3)}
 *       multiplies it by 1.3; brackets nest and multiply;</li>
 *   <li>{@code \(}, {@code \)}, {@code \[}, {@code \]}, {@code \\} are the literal characters; a lone backslash
 *       is dropped;</li>
 *   <li>brackets still open at the end apply to everything after them; a closing bracket without an opening
 *       one is literal text;</li>
 *   <li>{@code BREAK} (a whole word, with the white space around it) becomes {@link WeightedText#BREAK};</li>
 *   <li>neighbouring runs with equal weights are joined.</li>
 * </ul>
 * Weights are doubles computed in A1111's order, so they are bit-identical to Python's (for example
 * {@code (((house:1.3))} gives 1.5730000000000004). Where A1111 raises a ValueError (a weight such as
 * {@code (a:1.2.3)} that Python's float() rejects) this throws {@link PromptException}.
 */
public final class PromptAttention {
    private static final double ROUND_MULTIPLIER = 1.1;
    private static final double SQUARE_MULTIPLIER = 1 / 1.1;

    private PromptAttention() {
    }

    /**
     * {@code text} with its brackets and backslashes escaped, so that {@link #parse} reads it as one run of
     * weight 1 with exactly these characters (as diffusers, which has no emphasis syntax, reads a prompt). A
     * word BREAK still starts a new chunk.
     */
    public static String literal(String text) {
        StringBuilder out = new StringBuilder(text.length() + 8);
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if ("\\()[]".indexOf(c) >= 0) {
                out.append('\\');
            }
            out.append(c);
        }
        return out.toString();
    }

    /** The runs of {@code prompt} with their weights; never empty (an empty prompt is one empty run of weight 1). */
    public static List<WeightedText> parse(String prompt) {
        if (prompt == null) {
            throw new PromptException("prompt must not be null (use \"\" for an empty prompt)");
        }
        List<String> texts = new ArrayList<>();
        List<Double> weights = new ArrayList<>();
        Deque<Integer> round = new ArrayDeque<>();
        Deque<Integer> square = new ArrayDeque<>();
        int i = 0;
        int n = prompt.length();
        while (i < n) {
            char c = prompt.charAt(i);
            switch (c) {
                case '\\' -> {
                    // \( \) \[ \] \\ are the character; a lone backslash matches as "\" and adds ""
                    boolean escape = i + 1 < n && "()[]\\".indexOf(prompt.charAt(i + 1)) >= 0;
                    add(texts, weights, escape ? String.valueOf(prompt.charAt(i + 1)) : "", 1.0);
                    i += escape ? 2 : 1;
                }
                case '(' -> {
                    round.push(texts.size());
                    i++;
                }
                case '[' -> {
                    square.push(texts.size());
                    i++;
                }
                case ':' -> {
                    int end = weightEnd(prompt, i);
                    if (end > 0 && !round.isEmpty()) {
                        multiply(weights, round.pop(), pythonFloat(prompt.substring(i + 1, end - 1), prompt));
                        i = end;
                    } else if (end > 0) {
                        addText(texts, weights, prompt.substring(i, end));
                        i = end;
                    } else {
                        addText(texts, weights, ":");
                        i++;
                    }
                }
                case ')' -> {
                    if (!round.isEmpty()) {
                        multiply(weights, round.pop(), ROUND_MULTIPLIER);
                    } else {
                        addText(texts, weights, ")");
                    }
                    i++;
                }
                case ']' -> {
                    if (!square.isEmpty()) {
                        multiply(weights, square.pop(), SQUARE_MULTIPLIER);
                    } else {
                        addText(texts, weights, "]");
                    }
                    i++;
                }
                default -> {
                    int end = i;
                    while (end < n && "\\()[]:".indexOf(prompt.charAt(end)) < 0) {
                        end++;
                    }
                    addText(texts, weights, prompt.substring(i, end));
                    i = end;
                }
            }
        }
        // Python iterates the stacks from the bottom (list order)
        for (var it = round.descendingIterator(); it.hasNext(); ) {
            multiply(weights, it.next(), ROUND_MULTIPLIER);
        }
        for (var it = square.descendingIterator(); it.hasNext(); ) {
            multiply(weights, it.next(), SQUARE_MULTIPLIER);
        }
        if (texts.isEmpty()) {
            return List.of(new WeightedText("", 1.0));
        }
        return joinEqualWeights(texts, weights);
    }

    /**
     * Where A1111's {@code :([+-]?[.\d]+)\)} ends when it matches at {@code colon} (the index after the ')'),
     * or -1. {@code \d} is Python's Unicode decimal digit.
     */
    private static int weightEnd(String s, int colon) {
        int j = colon + 1;
        if (j < s.length() && (s.charAt(j) == '+' || s.charAt(j) == '-')) {
            j++;
        }
        int first = j;
        while (j < s.length() && (s.charAt(j) == '.' || Character.isDigit(s.codePointAt(j)))) {
            j += Character.charCount(s.codePointAt(j));
        }
        return j > first && j < s.length() && s.charAt(j) == ')' ? j + 1 : -1;
    }

    /** Python's float() on a string of [+-]?[.\d]+: one optional point and at least one digit. */
    private static double pythonFloat(String literal, String prompt) {
        StringBuilder ascii = new StringBuilder(literal.length());
        literal.codePoints().forEach(cp -> ascii.append(Character.isDigit(cp) ? (char) ('0' + Character.digit(cp, 10)) : (char) cp));
        String s = ascii.toString();
        int point = s.indexOf('.');
        boolean digits = s.chars().anyMatch(Character::isDigit);
        if (!digits || (point >= 0 && s.indexOf('.', point + 1) >= 0)) {
            throw new PromptException("attention weight '" + literal + "' is not a number in prompt \""
                    + abbreviate(prompt) + "\"");
        }
        return Double.parseDouble(s);
    }

    private static String abbreviate(String s) {
        return s.length() <= 80 ? s : s.substring(0, 77) + "...";
    }

    /** Plain text: split at BREAK, each BREAK becoming its own run. */
    private static void addText(List<String> texts, List<Double> weights, String text) {
        List<String> parts = BreakSplitter.split(text);
        for (int k = 0; k < parts.size(); k++) {
            if (k > 0) {
                add(texts, weights, WeightedText.BREAK.text(), WeightedText.BREAK.weight());
            }
            add(texts, weights, parts.get(k), 1.0);
        }
    }

    private static void add(List<String> texts, List<Double> weights, String text, double weight) {
        texts.add(text);
        weights.add(weight);
    }

    private static void multiply(List<Double> weights, int from, double multiplier) {
        for (int p = from; p < weights.size(); p++) {
            weights.set(p, weights.get(p) * multiplier);
        }
    }

    private static List<WeightedText> joinEqualWeights(List<String> texts, List<Double> weights) {
        List<WeightedText> out = new ArrayList<>();
        StringBuilder run = new StringBuilder(texts.getFirst());
        double weight = weights.getFirst();
        for (int k = 1; k < texts.size(); k++) {
            // Python's == on floats: equal values join (0.0 == -0.0), NaN never does
            if (weights.get(k) == weight) {
                run.append(texts.get(k));
            } else {
                out.add(new WeightedText(run.toString(), weight));
                run = new StringBuilder(texts.get(k));
                weight = weights.get(k);
            }
        }
        out.add(new WeightedText(run.toString(), weight));
        return List.copyOf(out);
    }
}
