package io.jdiffusion.cpu;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * How {@link Gemm} splits a product's depth: in one pass up to {@link Gemm#MAX_UNCHUNKED_DEPTH}, beyond it in
 * chunks of at most {@link Gemm#DEPTH_CHUNK} that are as equal as whole values allow, so no chunk is a short
 * remainder whose partial sums would cost a C load and store for a few multiply-adds.
 */
class GemmChunkDepthTest {
    @Test
    void depthsUpToTheLimitRunInOnePass() {
        for (int k = 1; k <= Gemm.MAX_UNCHUNKED_DEPTH; k++) {
            assertThat(Gemm.chunkDepth(k)).as("k=%d", k).isEqualTo(k);
        }
    }

    @Test
    void deeperProductsSplitIntoNearlyEqualChunksOfAtMostTheChunkDepth() {
        for (int k = Gemm.MAX_UNCHUNKED_DEPTH + 1; k <= 30_000; k++) {
            int kc = Gemm.chunkDepth(k);
            int chunks = (k + kc - 1) / kc;
            int last = k - (chunks - 1) * kc;
            assertThat(kc).as("k=%d", k).isLessThanOrEqualTo(Gemm.DEPTH_CHUNK);
            assertThat(chunks).as("k=%d: fewest chunks of at most %d", k, Gemm.DEPTH_CHUNK)
                    .isEqualTo((k + Gemm.DEPTH_CHUNK - 1) / Gemm.DEPTH_CHUNK);
            assertThat(kc - last).as("k=%d: the last chunk %d against %d", k, last, kc).isLessThan(chunks);
        }
    }
}
