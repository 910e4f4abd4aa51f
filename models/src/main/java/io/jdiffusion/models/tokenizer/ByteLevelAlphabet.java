package io.jdiffusion.models.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * GPT-2's byte-to-character table, which CLIP's vocabulary is written in: every UTF-8 byte maps to one
 * printable character. The printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') map to themselves;
 * the other 68 bytes map, in byte order, to U+0100, U+0101, ...
 */
final class ByteLevelAlphabet {
    private static final char[] BYTE_TO_CHAR = buildTable();
    /** Byte of each table character (the table's characters are all below U+0144), -1 elsewhere. */
    private static final int[] CHAR_TO_BYTE = invert(BYTE_TO_CHAR);

    private ByteLevelAlphabet() {
    }

    private static char[] buildTable() {
        char[] table = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            table[b] = printable ? (char) b : (char) next++;
        }
        return table;
    }

    /**
     * The inverse of {@link #encode}: byte characters back to bytes, decoded as UTF-8 with U+FFFD for
     * invalid sequences. Characters outside the table (a space, a special token's text) stand for themselves.
     */
    static String decode(String byteLevelText) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(byteLevelText.length());
        for (int i = 0; i < byteLevelText.length(); i++) {
            char c = byteLevelText.charAt(i);
            int b = c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
            if (b >= 0) {
                bytes.write(b);
            } else {
                bytes.writeBytes(String.valueOf(c).getBytes(StandardCharsets.UTF_8));
            }
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }

    private static int[] invert(char[] table) {
        int[] inverse = new int[512];
        Arrays.fill(inverse, -1);
        for (int b = 0; b < table.length; b++) {
            inverse[table[b]] = b;
        }
        return inverse;
    }

    /** The UTF-8 bytes of {@code text}, each replaced by its character. */
    static String encode(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        StringBuilder sb = new StringBuilder(bytes.length);
        for (byte b : bytes) {
            sb.append(BYTE_TO_CHAR[b & 0xFF]);
        }
        return sb.toString();
    }
}
