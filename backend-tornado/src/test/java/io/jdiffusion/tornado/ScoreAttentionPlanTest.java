package io.jdiffusion.tornado;

import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.tornado.kernels.TensorCoreKernels;
import org.junit.jupiter.api.Test;

import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Host-side: which attentions run as two products around a softmax on the Java kernels ({@link ScoreAttention}), into
 * how many chunks of queries, with what launches and tensor-core descriptors (no TornadoVM runtime, no GPU;
 * {@code ScoreAttentionTest} checks the results on the device).
 */
class ScoreAttentionPlanTest {
    /** An H100's multiprocessors. */
    private static final int MULTIPROCESSORS = 132;

    /** An attention over F32 graph inputs: q and k in heads of d, v in heads of dv. */
    static Op.Attention attention(int batch, int nq, int nk, int heads, int d, int dv, boolean causal) {
        GraphBuilder g = new GraphBuilder("attention");
        Value q = g.input("q", Shape.of(batch, nq, (long) heads * d), DType.F32);
        Value k = g.input("k", Shape.of(batch, nk, (long) heads * d), DType.F32);
        Value v = g.input("v", Shape.of(batch, nk, (long) heads * dv), DType.F32);
        g.output(g.attention(q, k, v, heads, 0.125f, causal));
        return (Op.Attention) g.build().ops().getLast();
    }

    private static Op.Attention vae(int tokens) {
        return attention(1, tokens, tokens, 1, 512, 512, false);
    }

    /** The tensor-core path of the PTX backend (products on {@link io.jdiffusion.tornado.kernels.TensorCoreKernels#gemm}). */
    private static TensorCorePath tensorCorePath() {
        return new TensorCorePath("attention", MULTIPROCESSORS, false);
    }

    /** The key count from which the plans below ask for the two products (off by default): SD 1.5's second level. */
    private static final String MANY_KEYS = "1024";

    /**
     * A path built with {@code scoreBytes} of scores a chunk (0: the default), asked to take attention over
     * {@link #MANY_KEYS} keys and more (the settings are read when the path is built).
     */
    private static ScoreAttention path(boolean tensorCores, long scoreBytes) {
        Supplier<ScoreAttention> make = () -> new ScoreAttention(tensorCores ? tensorCorePath() : null);
        if (scoreBytes == 0) {
            try (TemporaryProperties ignored = TemporaryProperties.set(TornadoSettings.SCORE_ATTENTION_KEYS, MANY_KEYS)) {
                return make.get();
            }
        }
        try (TemporaryProperties ignored = TemporaryProperties.set(TornadoSettings.ATTENTION_SCORE_BYTES, Long.toString(scoreBytes),
                TornadoSettings.SCORE_ATTENTION_KEYS, MANY_KEYS)) {
            return make.get();
        }
    }

    @Test
    void wideHeadsOrWithTensorCoresManyKeysWithoutACausalMaskRunHere() {
        ScoreAttention f32 = path(false, 0);
        assertThat(f32.suits(vae(4096))).as("the VAE's head of 512").isTrue();
        assertThat(f32.suits(attention(2, 37, 45, 1, 264, 200, false))).as("a key head of 264").isTrue();
        assertThat(f32.suits(attention(1, 64, 64, 1, 64, 1024, false))).as("values of 1024, past the flash kernel's 512").isTrue();
        assertThat(f32.suits(attention(2, 96, 136, 2, 320, 320, false))).as("two heads: the F32 products have no strides").isFalse();
        assertThat(f32.suits(attention(1, 64, 64, 1, 512, 512, true))).as("causal").isFalse();
        assertThat(f32.suits(attention(2, 4096, 77, 1, 160, 160, false))).as("160 fits the flash kernels").isFalse();
        assertThat(f32.suits(unetSelfAttention(1024, 80))).as("many keys, but no tensor cores").isFalse();

        ScoreAttention tc = path(true, 0);
        assertThat(tc.suits(vae(4096))).isTrue();
        assertThat(tc.suits(attention(2, 96, 136, 2, 320, 320, false))).as("two wide heads, each an image of the products").isTrue();
        assertThat(tc.suits(unetSelfAttention(1024, 80))).as("asked from 1024 keys: the UNet's second level at 512x512, heads of 80")
                .isTrue();
        assertThat(tc.suits(unetSelfAttention(4096, 40))).as("its first level: heads of 40, narrower than " + ScoreAttention.MIN_HEAD)
                .isFalse();
        assertThat(tc.suits(unetSelfAttention(256, 160))).as("its third level: 256 keys, fewer than asked").isFalse();
        assertThat(tc.suits(attention(2, 4096, 77, 8, 80, 80, false))).as("cross-attention over 77 keys").isFalse();
        assertThat(tc.suits(attention(2, 1024, 1024, 8, 80, 80, true))).as("causal").isFalse();
        assertThat(new ScoreAttention(tensorCorePath()).suits(unetSelfAttention(1024, 80)))
                .as("by default the flash kernel takes every head it can").isFalse();
        try (TemporaryProperties ignored = TemporaryProperties.set(TornadoSettings.SCORE_ATTENTION_KEYS, "256")) {
            assertThat(new ScoreAttention(tensorCorePath()).suits(unetSelfAttention(256, 160))).isTrue();
        }
        try (TemporaryProperties ignored = TemporaryProperties.set(TornadoSettings.WIDE_HEAD_ATTENTION, "false")) {
            assertThat(new ScoreAttention(tensorCorePath()).suits(vae(4096))).as("wide heads off").isFalse();
        }
    }

    /** SD 1.5's UNet self-attention over {@code tokens} latent pixels, batch 2 (classifier-free guidance), 8 heads of {@code d}. */
    private static Op.Attention unetSelfAttention(int tokens, int d) {
        return attention(2, tokens, tokens, 8, d, d, false);
    }

    @Test
    void everyHeadIsAnImageOfTheBatchedProductsWithItsOwnOffsets() {
        ScoreAttention p = path(true, 0);
        Op.Attention a = unetSelfAttention(1024, 80);
        assertThat(p.take(a)).isTrue();
        // 64 MiB of scores hold all 1024 queries of 8 heads x 1024 keys: one chunk an entry. S: 8 x 8 x 8 tiles, no
        // split; P V: 8 x 1 x 8 = 64 tiles over 1024 keys, split.
        assertThat(p.cost(a).launches()).as("per entry two panels, S, softmax, P V and its split epilogue").isEqualTo(2 * (2 + 4));
        int[] d = p.descriptor(a);
        int f = TensorCoreKernels.FIELDS;
        assertThat(d).as("every chunk is whole").hasSize(2 * f);
        assertThat(d[TensorCoreKernels.ROWS]).isEqualTo(1024);
        assertThat(d[TensorCoreKernels.BATCH]).as("a head an image").isEqualTo(8);
        assertThat(d[TensorCoreKernels.K_TOTAL]).isEqualTo(80);
        assertThat(d[TensorCoreKernels.K_PADDED]).isEqualTo(96);
        assertThat(d[TensorCoreKernels.A_STRIDE]).as("a query row holds every head").isEqualTo(640);
        assertThat(d[TensorCoreKernels.A_IMAGE]).as("head h's queries h 80 columns on").isEqualTo(80);
        assertThat(d[TensorCoreKernels.W_IMAGE]).as("a K^T panel: 96 x 1024").isEqualTo(96 * 1024);
        assertThat(d[TensorCoreKernels.OUT_STRIDE]).isEqualTo(1024);
        assertThat(d[TensorCoreKernels.OUT_IMAGE]).as("head h's scores after h chunks of them").isEqualTo(1024 * 1024);
        assertThat(d[TensorCoreKernels.SPLITS]).isEqualTo(1);
        assertThat(d[f + TensorCoreKernels.COLS]).isEqualTo(80);
        assertThat(d[f + TensorCoreKernels.K_TOTAL]).isEqualTo(1024);
        assertThat(d[f + TensorCoreKernels.A_STRIDE]).isEqualTo(1024);
        assertThat(d[f + TensorCoreKernels.A_IMAGE]).isEqualTo(1024 * 1024);
        assertThat(d[f + TensorCoreKernels.W_IMAGE]).as("a V panel: 1024 x 128").isEqualTo(1024 * 128);
        assertThat(d[f + TensorCoreKernels.OUT_STRIDE]).as("an output row holds every head").isEqualTo(640);
        assertThat(d[f + TensorCoreKernels.OUT_IMAGE]).isEqualTo(80);
        assertThat(d[f + TensorCoreKernels.SPLITS]).isGreaterThan(1);
    }

    @Test
    void manyHeadsInChunksOfQueriesAndAttentionPastOneTaskGraphStaysOnTheFlashKernel() {
        ScoreAttention p = path(true, 16L << 20);
        Op.Attention a = unetSelfAttention(1024, 80);
        assertThat(p.take(a)).isTrue();
        int[] d = p.descriptor(a);
        assertThat(d[TensorCoreKernels.ROWS]).as("16 MiB: 512 queries of 8 heads x 1024 keys").isEqualTo(512);
        assertThat(d[TensorCoreKernels.OUT_IMAGE]).as("a head's scores are a chunk's").isEqualTo(512 * 1024);
        assertThat(p.take(attention(2, 16384, 16384, 10, 64, 64, false))).as("16384 keys in 10 heads: 64 chunks an entry").isFalse();
    }

    @Test
    void withoutTensorCoresEachBatchEntryIsATransposeAndEachChunkTwoProductsAndASoftmax() {
        ScoreAttention oneChunk = path(false, 0);
        Op.Attention a = vae(4096);
        assertThat(oneChunk.take(a)).isTrue();
        assertThat(oneChunk.cost(a).launches()).as("512x512 decode: one chunk of 64 MiB of scores").isEqualTo(4);
        assertThat(oneChunk.descriptor(a)).as("the F32 products take their sizes as arguments").isEmpty();

        ScoreAttention small = path(false, 4 * 45 * 10);
        Op.Attention b = attention(2, 37, 45, 1, 264, 200, false);
        assertThat(small.take(b)).isTrue();
        assertThat(small.cost(b).launches()).as("two entries of 4 chunks (10, 10, 10, 7 queries)").isEqualTo(2 * (1 + 4 * 3));
    }

    @Test
    void withTensorCoresTheKeysAndValuesArePaddedPanelsAndFewTileProductsSplit() {
        ScoreAttention p = path(true, 0);
        Op.Attention a = vae(4096);
        assertThat(p.take(a)).isTrue();
        // S: 32 x 32 tiles; P V: 32 x 4 = 128 tiles, nearly one per multiprocessor: neither is split
        assertThat(p.cost(a).launches()).as("two panels, S, softmax, P V").isEqualTo(5);
        int[] d = p.descriptor(a);
        int f = TensorCoreKernels.FIELDS;
        assertThat(d).hasSize(2 * f);
        assertThat(d[TensorCoreKernels.ROWS]).isEqualTo(4096);
        assertThat(d[TensorCoreKernels.COLS]).as("S has a column per key").isEqualTo(4096);
        assertThat(d[TensorCoreKernels.K_TOTAL]).isEqualTo(512);
        assertThat(d[TensorCoreKernels.SPLITS]).isEqualTo(1);
        assertThat(d[TensorCoreKernels.BATCH]).as("one head").isEqualTo(1);
        assertThat(d[TensorCoreKernels.A_STRIDE]).isEqualTo(512);
        assertThat(d[TensorCoreKernels.OUT_STRIDE]).isEqualTo(4096);
        assertThat(d[f + TensorCoreKernels.COLS]).as("O has a column per value").isEqualTo(512);
        assertThat(d[f + TensorCoreKernels.K_TOTAL]).as("P V sums over the keys").isEqualTo(4096);
        assertThat(d[f + TensorCoreKernels.SPLITS]).isEqualTo(1);
        assertThat(d[f + TensorCoreKernels.COL_BLOCKS]).isEqualTo(4);

        // the UNet's second level: P V is 8 x 1 tiles in each of 8 heads, 64 tiles: four parts of its 32 steps of K
        Op.Attention u = unetSelfAttention(1024, 80);
        assertThat(p.take(u)).isTrue();
        int[] du = p.descriptor(u);
        assertThat(du[f + TensorCoreKernels.BATCH]).as("a head per image").isEqualTo(8);
        assertThat(du[f + TensorCoreKernels.ROW_BLOCKS] * du[f + TensorCoreKernels.COL_BLOCKS]).isEqualTo(8);
        assertThat(du[f + TensorCoreKernels.SPLITS]).isEqualTo(4);
        assertThat(du[TensorCoreKernels.SPLITS]).as("S: 8 x 8 tiles in each head").isEqualTo(1);
    }

    @Test
    void aShorterLastChunkHasDescriptorsOfItsOwnAndPanelsAreWholeTilesWide() {
        ScoreAttention p = path(true, 4 * 130 * 128);
        Op.Attention a = attention(1, 300, 130, 1, 192, 200, false);
        assertThat(p.take(a)).isTrue();
        int[] d = p.descriptor(a);
        int f = TensorCoreKernels.FIELDS;
        assertThat(d).as("chunks of 128, 128 and 44 queries").hasSize(4 * f);
        assertThat(d[TensorCoreKernels.ROWS]).isEqualTo(128);
        assertThat(d[2 * f + TensorCoreKernels.ROWS]).isEqualTo(44);
        assertThat(d[3 * f + TensorCoreKernels.ROWS]).isEqualTo(44);
        assertThat(d[TensorCoreKernels.K_PADDED]).as("the head padded to whole steps of K").isEqualTo(192);
        assertThat(d[TensorCoreKernels.W_STRIDE]).as("the K^T panel: 130 keys padded to two tiles").isEqualTo(256);
        assertThat(d[f + TensorCoreKernels.K_PADDED]).as("130 keys padded to whole steps").isEqualTo(160);
        assertThat(d[f + TensorCoreKernels.W_STRIDE]).as("the V panel: 200 values padded to two tiles").isEqualTo(256);
        assertThat(p.cost(a).launches()).as("two panels and three chunks of three launches").isEqualTo(2 + 3 * 3);
    }

    /**
     * An operator is never cut across task graphs, so an attention whose chunks' launches would not fit one graph stays
     * on the flash kernel: a 1024x1024 decode of one image fits (16 chunks), of two images not.
     */
    @Test
    void anAttentionWhoseLaunchesWouldNotFitOneTaskGraphIsLeftToTheFlashKernel() {
        ScoreAttention p = path(true, 0);
        Op.Attention one = attention(1, 16384, 16384, 1, 512, 512, false);
        Op.Attention two = attention(2, 16384, 16384, 1, 512, 512, false);
        assertThat(p.cost(one).bytes()).isLessThanOrEqualTo(ScoreAttention.MAX_BYTES);
        assertThat(p.cost(two).bytes()).isGreaterThan(ScoreAttention.MAX_BYTES);
        assertThat(p.take(one)).isTrue();
        assertThat(p.take(two)).isFalse();
        assertThat(p.handles(one)).isTrue();
        assertThat(p.handles(two)).isFalse();
        assertThat(p.take(attention(1, 64, 64, 1, 512, 512, true))).as("causal: not suited").isFalse();
    }
}
