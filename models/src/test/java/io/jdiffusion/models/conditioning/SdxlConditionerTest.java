package io.jdiffusion.models.conditioning;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import io.jdiffusion.backend.HostRunner;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.core.Numerics;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.core.safetensors.SafetensorsFile;
import io.jdiffusion.models.clip.ClipTextEncoder;
import io.jdiffusion.models.pipeline.GenerationRequest;
import io.jdiffusion.models.pipeline.GenerationResult;
import io.jdiffusion.models.pipeline.NetworkRunner;
import io.jdiffusion.models.pipeline.ProgressListener;
import io.jdiffusion.models.pipeline.StableDiffusionPipeline;
import io.jdiffusion.models.prompt.PromptAttention;
import io.jdiffusion.models.prompt.PromptChunker;
import io.jdiffusion.models.prompt.TokenChunk;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.models.tokenizer.ClipTokenizer;
import io.jdiffusion.models.unet.UNet2DConditionModel;
import io.jdiffusion.models.unet.UNetCall;
import io.jdiffusion.testdata.GoldenSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static io.jdiffusion.testdata.GoldenSet.tensor;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link SdxlConditioner} with A1111's emphasis and long prompts on tiny-sdxl: both tokenizers chunk the prompt
 * alike (each with its own padding), each encoder's chunks are weighted on their own, the context is the two
 * encoders' chunk outputs side by side and the chunks one after another, the pooled embedding is the first
 * chunk's; references are the encoders run chunk by chunk and emphasis computed here in double.
 */
class SdxlConditionerTest {
    private static final GoldenSet SET = GoldenSet.TINY_SDXL;
    private static final int D1 = 32;
    private static final int D2 = 48;
    private static final int WIDTH = D1 + D2;
    private static final int POOLED = 40;
    private static StableDiffusion model;
    private static Backend cpu;
    private static NetworkRunner runner;
    private static SdxlConditioner conditioner;
    private static ClipTokenizer tokenizer1;
    private static ClipTokenizer tokenizer2;
    private static PromptChunker chunker1;
    private static PromptChunker chunker2;

    @BeforeAll
    static void open() {
        model = StableDiffusion.load(SET.modelDir(), null);
        cpu = Backends.create("cpu");
        runner = new NetworkRunner(cpu, Precision.F32);
        conditioner = (SdxlConditioner) model.conditioner();
        tokenizer1 = ClipTokenizer.load(SET.modelDir().resolve("tokenizer"));
        tokenizer2 = ClipTokenizer.load(SET.modelDir().resolve("tokenizer_2"));
        chunker1 = new PromptChunker(tokenizer1);
        chunker2 = new PromptChunker(tokenizer2);
    }

    @AfterAll
    static void close() {
        runner.close();
        cpu.close();
        model.close();
    }

    static Stream<String> plainTokenizerCases() {
        // tokenizer_10 is longer than 77 tokens (diffusers truncates, chunking does not); in tokenizer_11 an
        // "<|endoftext|>" typed in the prompt is followed by padding in A1111's chunks (process_tokens pads
        // after the first EOS), by the rest of the prompt in diffusers'
        return SET.caseNames().stream().filter(n -> n.startsWith("tokenizer_") && !n.equals("tokenizer_batch")
                && !n.equals("tokenizer_10") && !n.equals("tokenizer_11"));
    }

    /** A prompt without emphasis is one chunk per tokenizer with exactly the ids transformers gives (the goldens). */
    @ParameterizedTest
    @MethodSource("plainTokenizerCases")
    void aPlainPromptChunksToTheGoldenIdsOfBothTokenizers(String name) {
        String prompt = PromptAttention.literal(SET.goldenCase(name).get("prompt").asText());
        try (SafetensorsFile f = SET.golden("tokenizer.safetensors")) {
            for (var tok : List.of(new Object[]{"tokenizer", chunker1}, new Object[]{"tokenizer_2", chunker2})) {
                List<TokenChunk> chunks = ((PromptChunker) tok[1]).chunks(prompt);
                assertThat(chunks).as(name + " " + tok[0]).hasSize(1);
                assertThat(chunks.getFirst().ids()).as(name + " " + tok[0])
                        .containsExactly(tensor(f, SET.goldenCase(name), tok[0] + ".input_ids").toLongArray());
                assertThat(chunks.getFirst().unweighted()).isTrue();
            }
        }
    }

    /**
     * 60 tokens, a comma, then a weighted phrase that crosses the 75-token line: the phrase moves to the second
     * chunk (comma backtracking), in both tokenizers, with the phrase's weight on its tokens; the first
     * tokenizer pads with EOS, the second with "!" (0).
     */
    @Test
    void aLongPromptSplitsAtTheCommaInBothTokenizers() {
        String head = head(60);
        String tail = "riding a horse at dusk with waves on a rocky coast";
        int weighted = tokenizer1.contentIds("riding a horse").length;
        int tailTokens = tokenizer1.contentIds(tail).length;
        assertThat(60 + 1 + tailTokens).as("the tail crosses the 75-token line").isGreaterThan(75);
        String prompt = head + ", (riding a horse:1.2) at dusk with waves on a rocky coast";
        for (ClipTokenizer tokenizer : List.of(tokenizer1, tokenizer2)) {
            List<TokenChunk> chunks = new PromptChunker(tokenizer).chunks(prompt);
            assertThat(chunks).hasSize(2);
            assertThat(chunks.get(0).ids()).containsExactly(tokenizer.encode(head + ","));
            assertThat(chunks.get(0).unweighted()).isTrue();
            assertThat(chunks.get(1).ids()).containsExactly(tokenizer.encode(tail));
            double[] expected = new double[77];
            Arrays.fill(expected, 1.0);
            Arrays.fill(expected, 1, 1 + weighted, 1.2);
            assertThat(chunks.get(1).multipliers()).containsExactly(expected);
            long[] second = chunks.get(1).ids();
            assertThat(second[0]).isEqualTo(tokenizer.bosId());
            assertThat(second[1 + tailTokens]).isEqualTo(tokenizer.eosId());
            assertThat(Arrays.copyOfRange(second, 2 + tailTokens, 77)).containsOnly(tokenizer.padId());
        }
        assertThat(tokenizer1.padId()).isEqualTo(tokenizer1.eosId());
        assertThat(tokenizer2.padId()).isZero();
    }

    /** Each encoder's output is weighted with its own mean restored: A1111's z * w * (mean(z) / mean(z * w)). */
    @Test
    void aWeightedPromptIsEachEncodersOutputWeightedOnItsOwn() {
        String weighted = "a (photograph:1.3) of an [astronaut] riding a horse";
        String plain = "a photograph of an astronaut riding a horse";
        Encoded actual = encode(weighted, "", false, 1);
        Encoded unweighted = encode(plain, "", false, 1);
        TokenChunk chunk1 = chunker1.chunks(weighted).getFirst();
        TokenChunk chunk2 = chunker2.chunks(weighted).getFirst();
        assertThat(chunk1.ids()).containsExactly(tokenizer1.encode(plain));
        assertThat(chunk2.ids()).containsExactly(tokenizer2.encode(plain));
        double[] expected = sideBySide(weight(hidden1(chunk1), chunk1.multipliers(), D1),
                weight(hidden2(chunk2).hidden, chunk2.multipliers(), D2));
        double err = Numerics.relativeL2(actual.context, expected);
        System.out.printf("SDXL weighted prompt context vs per-encoder emphasis in double: rel L2 %.3g%n", err);
        assertThat(err).isLessThan(1e-6);
        // the weighting changes the context (the unweighted context is diffusers', see SdxlPipelineGoldenTest)
        assertThat(Numerics.relativeL2(actual.context, unweighted.context)).isGreaterThan(1e-3);
        // the pooled embedding is the encoder's, unweighted (A1111 keeps it from before emphasis)
        assertThat(actual.pooled).containsExactly(unweighted.pooled);
    }

    /**
     * A 2-chunk prompt without a negative: a [2, 154, 80] context; the prompt's chunks are the encoders'
     * chunk outputs; the negative's own chunk is zeros (force_zeros_for_empty_prompt) and its padding chunk
     * the encoding of ""; the pooled embedding is the first chunk's.
     */
    @Test
    void aTwoChunkPromptGivesA154TokenContextAndTheFirstChunksPooledEmbedding() {
        String prompt = head(60) + ", riding a horse at dusk with waves on a rocky coast";
        Encoded actual = encode(prompt, "", true, 2);
        List<TokenChunk> chunks1 = chunker1.chunks(prompt);
        List<TokenChunk> chunks2 = chunker2.chunks(prompt);
        double[] expected = new double[2 * 154 * WIDTH];
        double[] emptyChunk = sideBySide(hidden1(chunker1.emptyChunk()), hidden2(chunker2.emptyChunk()).hidden);
        System.arraycopy(emptyChunk, 0, expected, 77 * WIDTH, 77 * WIDTH); // row 0 chunk 0 stays zeros
        for (int c = 0; c < 2; c++) {
            double[] chunk = sideBySide(hidden1(chunks1.get(c)), hidden2(chunks2.get(c)).hidden);
            System.arraycopy(chunk, 0, expected, (2 + c) * 77 * WIDTH, 77 * WIDTH);
        }
        double err = Numerics.relativeL2(actual.context, expected);
        System.out.printf("SDXL 2-chunk context vs encoders chunk by chunk: rel L2 %.3g%n", err);
        assertThat(err).isLessThan(1e-6);
        assertThat(Arrays.copyOfRange(actual.context, 0, 77 * WIDTH)).containsOnly(0f);
        float[] firstPooled = hidden2(chunks2.get(0)).pooled;
        float[] secondPooled = hidden2(chunks2.get(1)).pooled;
        assertThat(Arrays.copyOfRange(actual.pooled, 0, POOLED)).containsOnly(0f);
        assertThat(Arrays.copyOfRange(actual.pooled, POOLED, 2 * POOLED)).containsExactly(firstPooled);
        assertThat(firstPooled).isNotEqualTo(secondPooled);
    }

    /** A negative prompt longer than the prompt pads the prompt with chunks of "" (both encoders). */
    @Test
    void aLongNegativePadsThePrompt() {
        String negative = head(60) + ", blurry, low quality, watermark, " + head(20);
        Encoded actual = encode("a horse", negative, true, 2);
        double[] expected = new double[2 * 154 * WIDTH];
        List<TokenChunk> neg1 = chunker1.chunks(negative);
        List<TokenChunk> neg2 = chunker2.chunks(negative);
        for (int c = 0; c < 2; c++) {
            System.arraycopy(sideBySide(hidden1(neg1.get(c)), hidden2(neg2.get(c)).hidden), 0, expected, c * 77 * WIDTH, 77 * WIDTH);
        }
        System.arraycopy(sideBySide(hidden1(chunker1.chunks("a horse").getFirst()), hidden2(chunker2.chunks("a horse").getFirst()).hidden),
                0, expected, 2 * 77 * WIDTH, 77 * WIDTH);
        System.arraycopy(sideBySide(hidden1(chunker1.emptyChunk()), hidden2(chunker2.emptyChunk()).hidden),
                0, expected, 3 * 77 * WIDTH, 77 * WIDTH);
        assertThat(Numerics.relativeL2(actual.context, expected)).isLessThan(1e-6);
    }

    /**
     * "P BREAK P" is two chunks of P: the context is P's twice ([1, 154, 80]), and since attention over a
     * key/value sequence repeated twice is attention over it once, a run without guidance gives P's image.
     * This runs the UNet compiled for 154 context tokens beside the one for 77.
     */
    @Test
    void breakStartsAChunkAndTheUNetTakesTheLongerContext() {
        String p = "a photograph of an astronaut riding a horse";
        Encoded twice = encode(p + " BREAK " + p, "", false, 2);
        Encoded once = encode(p, "", false, 1);
        float[] doubled = new float[154 * WIDTH];
        System.arraycopy(once.context, 0, doubled, 0, 77 * WIDTH);
        System.arraycopy(once.context, 0, doubled, 77 * WIDTH, 77 * WIDTH);
        assertThat(twice.context).containsExactly(doubled);
        assertThat(twice.pooled).containsExactly(once.pooled);
        try (StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model, cpu, Precision.F32)) {
            float[][] latents = new float[2][];
            int i = 0;
            for (String prompt : List.of(p, p + " BREAK " + p)) {
                GenerationRequest request = GenerationRequest.builder().prompt(prompt).steps(2).guidanceScale(1f)
                        .size(32, 32).seed(7).build();
                try (GenerationResult result = pipeline.generate(request, ProgressListener.NONE)) {
                    latents[i++] = result.latents();
                }
            }
            double err = Numerics.relativeL2(latents[1], latents[0]);
            System.out.printf("SDXL 'P BREAK P' (154 tokens) vs 'P' (77) latents: rel L2 %.3g%n", err);
            assertThat(err).isLessThan(1e-5);
        }
        // the same through the UNet graph directly, with guidance's batch of two
        UNet2DConditionModel unet = model.unet();
        float[] sample = new float[2 * 4 * 8 * 8];
        for (int j = 0; j < sample.length; j++) {
            sample[j] = (float) Math.sin(j * 0.37);
        }
        float[] c77 = new float[2 * 77 * WIDTH];
        System.arraycopy(once.context, 0, c77, 0, 77 * WIDTH);
        System.arraycopy(once.context, 0, c77, 77 * WIDTH, 77 * WIDTH);
        float[] c154 = new float[2 * 154 * WIDTH];
        for (int r = 0; r < 4; r++) {
            System.arraycopy(once.context, 0, c154, r * 77 * WIDTH, 77 * WIDTH);
        }
        float[] out77 = unetOutput(unet, 77, sample, c77, once.pooled);
        float[] out154 = unetOutput(unet, 154, sample, c154, once.pooled);
        assertThat(Numerics.relativeL2(out154, out77)).isLessThan(1e-5);
    }

    private static float[] unetOutput(UNet2DConditionModel unet, int tokens, float[] sample, float[] context, float[] pooled) {
        float[] textEmbeds = new float[2 * POOLED];
        System.arraycopy(pooled, 0, textEmbeds, 0, POOLED);
        System.arraycopy(pooled, 0, textEmbeds, POOLED, POOLED);
        float[] timeIds = {32, 32, 0, 0, 32, 32, 32, 32, 0, 0, 32, 32};
        try (Tensor s = Tensor.ofFloats(Shape.of(2, 4, 8, 8), sample);
             Tensor t = Tensor.ofFloats(Shape.of(2), new float[]{500f, 500f});
             Tensor c = Tensor.ofFloats(Shape.of(2, tokens, WIDTH), context);
             Tensor e = Tensor.ofFloats(Shape.of(2, POOLED), textEmbeds);
             Tensor ids = Tensor.ofFloats(Shape.of(2, 6), timeIds)) {
            List<Tensor> out = HostRunner.run(cpu, unet.graph(new UNetCall(2, 8, 8, tokens)), List.of(s, t, c, e, ids));
            float[] result = out.getFirst().toFloatArray();
            out.forEach(Tensor::close);
            return result;
        }
    }

    /** Words of the tiny vocabulary making exactly {@code tokens} tokens, without commas. */
    private static String head(int tokens) {
        List<String> words = new ArrayList<>();
        String[] pool = {"a", "photograph", "of", "an", "astronaut"};
        int count = 0;
        for (int i = 0; count < tokens; i++) {
            String w = pool[i % pool.length];
            int n = tokenizer1.contentIds(w).length;
            if (count + n > tokens) {
                w = "a";
                n = tokenizer1.contentIds(w).length;
            }
            words.add(w);
            count += n;
        }
        String head = String.join(" ", words);
        assertThat(tokenizer1.contentIds(head)).hasSize(tokens);
        return head;
    }

    private record Encoded(float[] context, float[] pooled) {
    }

    private static Encoded encode(String prompt, String negative, boolean guided, int chunks) {
        try (Conditioning c = conditioner.encode(new ConditioningInput(prompt, negative, guided, 32, 32), runner);
             Tensor context = cpu.download(c.context());
             Tensor pooled = cpu.download(c.pooled());
             Tensor embeds = cpu.download(c.addedInputs().get(UNet2DConditionModel.TEXT_EMBEDS))) {
            int batch = guided ? 2 : 1;
            assertThat(context.shape()).isEqualTo(Shape.of(batch, 77L * chunks, WIDTH));
            assertThat(c.tokens()).isEqualTo(77 * chunks);
            assertThat(pooled.shape()).isEqualTo(Shape.of(batch, POOLED));
            assertThat(embeds.toFloatArray()).containsExactly(pooled.toFloatArray());
            return new Encoded(context.toFloatArray(), pooled.toFloatArray());
        }
    }

    /** text_encoder's penultimate hidden states for one chunk, [77, 32]. */
    private static float[] hidden1(TokenChunk chunk) {
        try (Tensor ids = Tensor.ofLongs(Shape.of(1, 77), chunk.ids())) {
            List<Tensor> out = HostRunner.run(cpu, model.textEncoder().penultimateGraph(1, false), List.of(ids));
            float[] z = out.getFirst().toFloatArray();
            out.forEach(Tensor::close);
            return z;
        }
    }

    private record Hidden2(float[] hidden, float[] pooled) {
    }

    /** text_encoder_2's penultimate hidden states [77, 48] and pooled projection [40] for one chunk. */
    private static Hidden2 hidden2(TokenChunk chunk) {
        long[] ids = chunk.ids();
        try (Tensor hostIds = Tensor.ofLongs(Shape.of(1, 77), ids);
             Tensor eos = Tensor.ofLongs(Shape.of(1), ClipTextEncoder.poolingIndices(ids, 1, 77))) {
            List<Tensor> out = HostRunner.run(cpu, model.textEncoder2().penultimateGraph(1, true), List.of(hostIds, eos));
            Hidden2 h = new Hidden2(out.get(0).toFloatArray(), out.get(1).toFloatArray());
            out.forEach(Tensor::close);
            return h;
        }
    }

    /** A1111's original emphasis in double: z * w per token, then times mean(z) / mean(z * w). */
    private static float[] weight(float[] z, double[] multipliers, int dim) {
        double before = 0;
        double after = 0;
        double[] weighted = new double[z.length];
        for (int t = 0; t < multipliers.length; t++) {
            for (int d = 0; d < dim; d++) {
                int i = t * dim + d;
                before += z[i];
                weighted[i] = z[i] * multipliers[t];
                after += weighted[i];
            }
        }
        float[] out = new float[z.length];
        for (int i = 0; i < z.length; i++) {
            out[i] = (float) (weighted[i] * before / after);
        }
        return out;
    }

    /** One chunk's context: [77, 32] and [77, 48] side by side, [77, 80]. */
    private static double[] sideBySide(float[] h1, float[] h2) {
        double[] out = new double[77 * WIDTH];
        for (int t = 0; t < 77; t++) {
            for (int d = 0; d < D1; d++) {
                out[t * WIDTH + d] = h1[t * D1 + d];
            }
            for (int d = 0; d < D2; d++) {
                out[t * WIDTH + D1 + d] = h2[t * D2 + d];
            }
        }
        return out;
    }
}
