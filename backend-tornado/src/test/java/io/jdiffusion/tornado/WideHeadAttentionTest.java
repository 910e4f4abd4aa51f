package io.jdiffusion.tornado;

import io.jdiffusion.backend.graph.Op;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Host-side: which attentions run as two cuBLASLt products around a softmax ({@link WideHeadAttention}), how many
 * queries a chunk takes and what the chunks cost in task-graph launches (no TornadoVM runtime, no GPU; the F16
 * conformance suite checks the results on the device).
 */
class WideHeadAttentionTest {
    private static Op.Attention attention(int batch, int nq, int nk, int heads, int d, boolean causal) {
        return ScoreAttentionPlanTest.attention(batch, nq, nk, heads, d, d, causal);
    }

    @Test
    void headsWiderThanCudnnTakesRunHereWhereTheOperandsAreInTheHalfArena() {
        assertThat(WideHeadAttention.suits(attention(1, 4096, 4096, 1, 512, false), true)).as("the VAE's head of 512").isTrue();
        assertThat(WideHeadAttention.suits(attention(2, 96, 136, 2, 320, false), true)).isTrue();
        assertThat(WideHeadAttention.suits(attention(2, 4096, 77, 8, 40, false), true)).as("cuDNN's").isFalse();
        assertThat(WideHeadAttention.suits(attention(1, 256, 256, 2, 256, false), true)).as("256 is still cuDNN's").isFalse();
        assertThat(WideHeadAttention.suits(attention(1, 70, 70, 1, 512, false), true)).as("keys not a multiple of 8").isFalse();
        assertThat(WideHeadAttention.suits(attention(1, 64, 64, 1, 516, false), true)).as("head not a multiple of 8").isFalse();
        assertThat(WideHeadAttention.suits(attention(1, 64, 64, 1, 512, true), true)).as("causal").isFalse();
        assertThat(WideHeadAttention.suits(attention(1, 64, 64, 1, 512, false), false)).as("operands outside the F16 arena").isFalse();
    }

    @Test
    void aChunkTakesAsManyQueriesAs64MiBOfScoresHold() {
        assertThat(WideHeadAttention.chunkRows(attention(1, 4096, 4096, 1, 512, false))).as("512x512 decode: one chunk").isEqualTo(4096);
        assertThat(WideHeadAttention.chunkRows(attention(1, 16384, 16384, 1, 512, false))).as("1024x1024: 16 chunks").isEqualTo(1024);
        assertThat(WideHeadAttention.chunkRows(attention(1, 4104, 4096, 1, 512, false))).isEqualTo(4096);
        assertThat(WideHeadAttention.chunkRows(attention(2, 96, 136, 2, 320, false))).as("all queries").isEqualTo(96);
    }

    @Test
    void eachChunkOfEachHeadIsTwoProductsAndASoftmax() {
        TaskCost one = WideHeadAttention.cost(attention(1, 4096, 4096, 1, 512, false));
        assertThat(one.launches()).isEqualTo(3);
        assertThat(WideHeadAttention.cost(attention(1, 4104, 4096, 1, 512, false))).isEqualTo(one.times(2));
        assertThat(WideHeadAttention.cost(attention(2, 96, 136, 2, 320, false))).isEqualTo(one.times(4));
    }
}
