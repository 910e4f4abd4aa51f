package io.jdiffusion.models.prompt;

import java.util.ArrayList;
import java.util.List;

/**
 * Python's {@code re.split(r"\s*\bBREAK\b\s*", text)} with Python's Unicode meaning of {@code \s} (str.isspace)
 * and of the word characters that {@code \b} looks at (str.isalnum or '_'). Java's regex classes differ from
 * Python's at the edges (no-break spaces, numeric letters), so the scan is written out.
 */
final class BreakSplitter {
    private static final String WORD = "BREAK";

    private BreakSplitter() {
    }

    static List<String> split(String text) {
        List<String> parts = new ArrayList<>();
        int partStart = 0;
        int from = 0;
        while (true) {
            int at = nextBreakWord(text, from);
            if (at < 0) {
                break;
            }
            int matchStart = at;
            while (matchStart > partStart && isSpace(text.charAt(matchStart - 1))) {
                matchStart--;
            }
            int matchEnd = at + WORD.length();
            while (matchEnd < text.length() && isSpace(text.charAt(matchEnd))) {
                matchEnd++;
            }
            parts.add(text.substring(partStart, matchStart));
            partStart = matchEnd;
            from = matchEnd;
        }
        parts.add(text.substring(partStart));
        return parts;
    }

    /** The index of the next "BREAK" at or after {@code from} with a word boundary on both sides, or -1. */
    private static int nextBreakWord(String text, int from) {
        int at = text.indexOf(WORD, from);
        while (at >= 0) {
            boolean startsWord = at == 0 || !isWordChar(text, at - 1);
            int end = at + WORD.length();
            boolean endsWord = end == text.length() || !isWordChar(text, end);
            if (startsWord && endsWord) {
                return at;
            }
            at = text.indexOf(WORD, at + 1);
        }
        return -1;
    }

    /** Python's str.isspace() for one code unit: Unicode white space, the separators U+001C..U+001F and U+0085. */
    static boolean isSpace(char c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == '\u0085';
    }

    /** Python's \w: str.isalnum() or '_' (letters, and digits of every numeric kind). */
    private static boolean isWordChar(String text, int index) {
        char c = text.charAt(index);
        int cp = c;
        if (Character.isLowSurrogate(c) && index > 0 && Character.isHighSurrogate(text.charAt(index - 1))) {
            cp = Character.toCodePoint(text.charAt(index - 1), c);
        } else if (Character.isHighSurrogate(c) && index + 1 < text.length()) {
            cp = text.codePointAt(index);
        }
        if (cp == '_' || Character.isLetter(cp)) {
            return true;
        }
        int type = Character.getType(cp);
        return type == Character.DECIMAL_DIGIT_NUMBER || type == Character.LETTER_NUMBER || type == Character.OTHER_NUMBER;
    }
}
