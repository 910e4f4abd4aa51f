package io.jdiffusion.models.prompt;

/**
 * A1111's "Original" emphasis, applied to one chunk's text-encoder output: every token's hidden state is
 * multiplied by its weight, then the whole chunk is rescaled so that its mean is what it was before
 * ({@code z *= w; z *= old_mean / new_mean}). Means are summed in double; products are rounded to float as
 * PyTorch's float32 does.
 */
public final class Emphasis {
    private Emphasis() {
    }

    /**
     * Weights {@code hidden}, [tokens, dim] from {@code offset}, in place. An unweighted chunk is left
     * bit-identical (so a prompt without emphasis gives diffusers' embeddings exactly).
     */
    public static void apply(float[] hidden, int offset, TokenChunk chunk, int dim) {
        if (chunk.unweighted()) {
            return;
        }
        double[] multipliers = chunk.multipliers();
        int count = multipliers.length * dim;
        double before = 0;
        for (int i = 0; i < count; i++) {
            before += hidden[offset + i];
        }
        double after = 0;
        for (int t = 0; t < multipliers.length; t++) {
            float m = (float) multipliers[t];
            for (int d = 0; d < dim; d++) {
                int i = offset + t * dim + d;
                hidden[i] *= m;
                after += hidden[i];
            }
        }
        float rescale = (float) ((before / count) / (after / count));
        for (int i = 0; i < count; i++) {
            hidden[offset + i] *= rescale;
        }
    }
}
