package io.jdiffusion.models.prompt;

/**
 * One run of prompt text and the attention multiplier its tokens get. A1111 marks a {@code BREAK} as the
 * text "BREAK" with weight -1; only that exact pair starts a new chunk (a BREAK inside brackets has its -1
 * multiplied like any other run and is then ordinary text, as in A1111).
 */
public record WeightedText(String text, double weight) {
    public static final WeightedText BREAK = new WeightedText("BREAK", -1.0);

    public boolean isBreak() {
        return text.equals("BREAK") && weight == -1.0;
    }
}
