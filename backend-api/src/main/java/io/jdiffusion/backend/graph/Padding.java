package io.jdiffusion.backend.graph;

/**
 * Zero padding of a 2-D convolution's input on each side. Asymmetric padding covers the VAE encoder's
 * downsampler, which pads (left 0, right 1, top 0, bottom 1) before a stride-2 convolution.
 */
public record Padding(int top, int bottom, int left, int right) {
    public Padding {
        if (top < 0 || bottom < 0 || left < 0 || right < 0) {
            throw new IllegalArgumentException("negative padding " + top + "," + bottom + "," + left + "," + right);
        }
    }

    public static Padding same(int p) {
        return new Padding(p, p, p, p);
    }

    public boolean isSymmetric() {
        return top == bottom && left == right && top == left;
    }
}
