package io.jdiffusion.core;

/**
 * Text from a file or a request, made fit to appear inside a one-line error message. Names, tags and values
 * that jdiffusion echoes back come from strangers' files and prompts: a line break inside one would split the
 * message (and could forge a second line in a log), and an unbounded one would bury the reason.
 */
public final class OneLine {
    /** The longest echoed value, in characters, before it is cut with "...". */
    public static final int MAX_VALUE = 120;

    private OneLine() {
    }

    /** {@code value} as one bounded line: every run of whitespace or control characters becomes one space. */
    public static String of(Object value) {
        return of(value, MAX_VALUE);
    }

    /** {@code value} as one line of at most {@code maxChars} characters, cut with "..." where it is longer. */
    public static String of(Object value, int maxChars) {
        String s = flatten(String.valueOf(value));
        return s.length() <= maxChars ? s : s.substring(0, maxChars - 3) + "...";
    }

    /** A whole message on one line, not shortened: every run of whitespace or control characters becomes one space. */
    public static String flatten(String message) {
        return message == null ? null : message.replaceAll("[\\s\\p{Cntrl}]+", " ");
    }
}
