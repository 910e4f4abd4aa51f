package io.jdiffusion.models.rng;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.core.safetensors.SafetensorsFile;
import io.jdiffusion.testdata.TinySd;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link TorchGenerator} against torch 2.11's CPU draws in the golden set. Every value is required to be
 * bit-identical; {@link UlpStats} reports the exact fraction and the largest ulp distance so a failure says
 * how far off it is.
 */
class TorchGeneratorTest {

    private static float[] golden(String file, String caseName, String role) {
        JsonNode c = TinySd.goldenCase(caseName);
        try (SafetensorsFile f = TinySd.golden(file)) {
            return f.tensor(c.get("tensors").get(role).get("key").asText()).toFloatArray();
        }
    }

    private static void assertBitExact(String what, float[] actual, float[] expected) {
        UlpStats stats = UlpStats.of(actual, expected);
        System.out.printf("%s: %s%n", what, stats);
        assertThat(stats.exact()).as(what + ": " + stats).isEqualTo(expected.length);
    }

    @Test
    void randnOfWholeBlocksMatchesTorchForThreeSeeds() {
        for (int seed : new int[] {0, 42, 1234}) {
            String name = "rng_seed" + seed;
            float[] expected = golden("rng.safetensors", name, "randn");
            assertThat(expected).hasSize(256);
            assertBitExact(name, new TorchGenerator(seed).randn(256), expected);
            JsonNode first64 = TinySd.goldenCase(name).get("first64");
            assertThat(first64.get(0).floatValue()).isEqualTo(expected[0]);
        }
    }

    @Test
    void pipelineLatentsMatchTorch() {
        float[] expected = golden("rng.safetensors", "rng_pipeline_latents", "randn");
        assertBitExact("rng_pipeline_latents", new TorchGenerator(1234).randn(4 * 16 * 16), expected);
    }

    /** Scalar path (n < 16) with its cached second value, the 16-wide path and the redrawn tail, one generator. */
    @Test
    void consecutiveDrawsCarryTheGeneratorStateAndTheCachedNormal() {
        JsonNode c = TinySd.goldenCase("rng_sequence_seed0");
        TorchGenerator generator = new TorchGenerator(0);
        int draw = 0;
        for (JsonNode size : c.get("sizes")) {
            int n = size.asInt();
            String role = "draw" + draw + "_n" + n;
            assertBitExact("rng_sequence_seed0 " + role, generator.randn(n), golden("rng.safetensors", "rng_sequence_seed0", role));
            draw++;
        }
        assertThat(draw).isEqualTo(5);
    }

    /**
     * The fourth draw (n = 3) starts with the sine left over from the first draw (n = 5). A generator that
     * drew randn(6) instead has consumed the same three pairs but holds no leftover: its n = 3 draw differs.
     */
    @Test
    void scalarCacheSurvivesVectorDraws() {
        float[] expected = golden("rng.safetensors", "rng_sequence_seed0", "draw3_n3");
        TorchGenerator withLeftover = new TorchGenerator(0);
        TorchGenerator withoutLeftover = new TorchGenerator(0);
        withLeftover.randn(5);
        withoutLeftover.randn(6);
        for (TorchGenerator g : new TorchGenerator[] {withLeftover, withoutLeftover}) {
            g.randn(16);
            g.randn(19);
        }
        assertThat(withLeftover.randn(3)).containsExactly(expected);
        assertThat(withoutLeftover.randn(3)[0]).isNotEqualTo(expected[0]);
    }

    @Test
    void randMatchesTorch() {
        float[] expected = golden("rng.safetensors", "rng_rand_seed7", "rand");
        assertBitExact("rng_rand_seed7", new TorchGenerator(7).rand(64), expected);
    }

    /** pipeline_euler_a: one generator seeded 1234 draws the initial latents, then each step's ancestral noise. */
    @Test
    void eulerAncestralPipelineNoiseSequenceMatchesTorch() {
        int n = 4 * 16 * 16;
        float[] init = golden("pipeline.safetensors", "pipeline_euler_a", "init_latents_drawn");
        float[] stepNoise = golden("pipeline.safetensors", "pipeline_euler_a", "step_noise");
        TorchGenerator generator = new TorchGenerator(1234);
        assertBitExact("pipeline_euler_a init_latents_drawn", generator.randn(n), init);
        float[] drawn = new float[stepNoise.length];
        for (int step = 0; step < stepNoise.length / n; step++) {
            System.arraycopy(generator.randn(n), 0, drawn, step * n, n);
        }
        assertBitExact("pipeline_euler_a step_noise", drawn, stepNoise);
    }

    @Test
    void seedsUseTheLow32BitsAsTorchDoes() {
        float[] a = new TorchGenerator(5L).randn(32);
        float[] b = new TorchGenerator(5L + (1L << 32)).randn(32);
        assertThat(a).containsExactly(b);
        assertThat(new TorchGenerator(-1L).randn(16)).containsExactly(new TorchGenerator(0xFFFF_FFFFL).randn(16));
    }

    @Test
    void negativeSizeIsRejected() {
        assertThatThrownBy(() -> new TorchGenerator(0).randn(-1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("-1");
        assertThat(new TorchGenerator(0).randn(0)).isEmpty();
    }

    /** A float64 Box-Muller over the same uniforms agrees to a few ulp: the kernel is a Box-Muller, not just a copy of torch's bits. */
    @Test
    void vectorPathAgreesWithFloat64BoxMuller() {
        TorchGenerator generator = new TorchGenerator(99);
        float[] actual = generator.randn(64);
        Mt19937 engine = new Mt19937(99);
        double[] u = new double[64];
        for (int i = 0; i < 64; i++) {
            u[i] = (engine.nextInt() & 0xFFFFFF) / (double) (1 << 24);
        }
        float[] reference = new float[64];
        for (int block = 0; block < 64; block += 16) {
            for (int j = 0; j < 8; j++) {
                double r = Math.sqrt(-2 * Math.log(1 - u[block + j]));
                double theta = 2 * Math.PI * u[block + j + 8];
                reference[block + j] = (float) (r * Math.cos(theta));
                reference[block + j + 8] = (float) (r * Math.sin(theta));
            }
        }
        double maxAbs = 0;
        for (int i = 0; i < 64; i++) {
            maxAbs = Math.max(maxAbs, Math.abs(actual[i] - reference[i]));
        }
        assertThat(maxAbs).isLessThan(1e-5);
        assertThat(Arrays.stream(toDouble(actual)).map(Math::abs).max().orElseThrow()).isGreaterThan(1.0);
    }

    private static double[] toDouble(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            d[i] = v[i];
        }
        return d;
    }

    /** Exact-match count and largest distance in units in the last place. */
    record UlpStats(int exact, int count, long maxUlp) {
        static UlpStats of(float[] actual, float[] expected) {
            assertThat(actual).hasSameSizeAs(expected);
            int exact = 0;
            long maxUlp = 0;
            for (int i = 0; i < actual.length; i++) {
                long ulps = Math.abs(ordered(actual[i]) - ordered(expected[i]));
                if (ulps == 0) {
                    exact++;
                }
                maxUlp = Math.max(maxUlp, ulps);
            }
            return new UlpStats(exact, actual.length, maxUlp);
        }

        /** Float bits mapped to a monotonic integer line, so ulp distances across zero are counted right. */
        private static long ordered(float f) {
            int bits = Float.floatToRawIntBits(f);
            return bits >= 0 ? bits : (long) Integer.MIN_VALUE - bits;
        }

        @Override
        public String toString() {
            return exact + "/" + count + " exact, max " + maxUlp + " ulp";
        }
    }
}
