package io.jdiffusion.models.pipeline;

import io.jdiffusion.models.tokenizer.ClipTokenizer;

/**
 * The largest request jdiffusion accepts, checked when a request is built (before any model work), so a
 * typo such as {@code --width 100000} is refused at once instead of allocating without bound.
 */
public final class RequestLimits {
    /** Denoising steps: the length of SD's training schedule. */
    public static final int MAX_STEPS = 1000;
    /** Width or height in pixels. */
    public static final int MAX_SIDE = 4096;
    /** Width x height: 2048 x 2048 (the VAE decoder's activations at this size take several GiB). */
    public static final long MAX_PIXELS = 2048L * 2048;
    /** Characters of a prompt or negative prompt. */
    public static final int MAX_PROMPT_CHARS = ClipTokenizer.MAX_PROMPT_CHARS;

    private RequestLimits() {
    }

    /** Fails with one line naming the limit unless {@code width} x {@code height} (0 = the model's default) is within it. */
    public static void checkSize(int width, int height) {
        if (width < 0 || height < 0) {
            throw new IllegalArgumentException("size must be positive, got " + width + "x" + height);
        }
        if (width > MAX_SIDE || height > MAX_SIDE) {
            throw new IllegalArgumentException("size " + width + "x" + height + " has a side longer than the limit of "
                    + MAX_SIDE + " pixels");
        }
        if ((long) width * height > MAX_PIXELS) {
            throw new IllegalArgumentException("size " + width + "x" + height + " has " + (long) width * height
                    + " pixels, more than the limit of " + MAX_PIXELS + " (2048x2048)");
        }
    }
}
