package io.jdiffusion.models.prompt;

import java.util.Arrays;

/**
 * One text-encoder call's worth of a prompt: BOS, up to 75 prompt tokens, EOS and padding (77 ids for
 * CLIP), and the attention multiplier of each position (1 for BOS, EOS and padding).
 */
public record TokenChunk(long[] ids, double[] multipliers) {
    public TokenChunk {
        if (ids.length != multipliers.length) {
            throw new IllegalArgumentException(ids.length + " ids but " + multipliers.length + " multipliers");
        }
        ids = ids.clone();
        multipliers = multipliers.clone();
    }

    @Override
    public long[] ids() {
        return ids.clone();
    }

    @Override
    public double[] multipliers() {
        return multipliers.clone();
    }

    /** Whether every multiplier is 1, so that emphasis leaves the encoder's output untouched. */
    public boolean unweighted() {
        return Arrays.stream(multipliers).allMatch(m -> m == 1.0);
    }

    public int length() {
        return ids.length;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TokenChunk other && Arrays.equals(ids, other.ids) && Arrays.equals(multipliers, other.multipliers);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(ids) + Arrays.hashCode(multipliers);
    }

    @Override
    public String toString() {
        return "TokenChunk" + Arrays.toString(ids) + " x " + Arrays.toString(multipliers);
    }
}
