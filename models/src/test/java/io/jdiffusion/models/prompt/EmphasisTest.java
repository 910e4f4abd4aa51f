package io.jdiffusion.models.prompt;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** {@link Emphasis} against a float64 reference of A1111's multiply-then-restore-the-mean. */
class EmphasisTest {
    @Test
    void multipliesEachTokenThenRestoresTheChunkMean() {
        int tokens = 77;
        int dim = 16;
        SplittableRandom rng = new SplittableRandom(7);
        float[] hidden = new float[5 + tokens * dim];
        for (int i = 0; i < hidden.length; i++) {
            hidden[i] = (float) (0.3 + rng.nextGaussian());
        }
        double[] m = new double[tokens];
        Arrays.fill(m, 1.0);
        m[3] = 1.5;
        m[4] = 0.5;
        m[10] = 1.21;
        float[] original = hidden.clone();
        Emphasis.apply(hidden, 5, new TokenChunk(new long[tokens], m), dim);

        double before = 0;
        double after = 0;
        for (int i = 0; i < tokens * dim; i++) {
            before += original[5 + i];
            after += original[5 + i] * m[i / dim];
        }
        double scale = before / after;
        for (int i = 0; i < 5; i++) {
            assertThat(hidden[i]).isEqualTo(original[i]); // outside the chunk
        }
        double err = 0;
        double norm = 0;
        double mean = 0;
        for (int i = 0; i < tokens * dim; i++) {
            double expected = original[5 + i] * m[i / dim] * scale;
            err += (hidden[5 + i] - expected) * (hidden[5 + i] - expected);
            norm += expected * expected;
            mean += hidden[5 + i];
        }
        assertThat(Math.sqrt(err / norm)).isLessThan(1e-6);
        assertThat(mean / (tokens * dim)).isCloseTo(before / (tokens * dim), within(1e-6));
    }

    @Test
    void leavesAnUnweightedChunkBitIdentical() {
        float[] hidden = {1.5f, -2.25f, 3.0f, 0.1f};
        float[] copy = hidden.clone();
        Emphasis.apply(hidden, 0, new TokenChunk(new long[2], new double[]{1.0, 1.0}), 2);
        assertThat(hidden).containsExactly(copy);
    }
}
