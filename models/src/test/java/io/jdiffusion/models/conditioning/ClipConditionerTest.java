package io.jdiffusion.models.conditioning;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import io.jdiffusion.backend.HostRunner;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.pipeline.NetworkRunner;
import io.jdiffusion.models.prompt.Emphasis;
import io.jdiffusion.models.prompt.PromptChunker;
import io.jdiffusion.models.prompt.TokenChunk;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.models.testsupport.Golden;
import io.jdiffusion.testdata.TinySd;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link ClipConditioner} with emphasis and long prompts on the tiny model: each 77-token block of the
 * context is the text encoder's output for that chunk (weighted as A1111), blocks in prompt order, and the
 * shorter prompt padded with the empty prompt's chunk.
 */
class ClipConditionerTest {
    /** The long prompt of the seeded goldens (diffusers truncates it; here it is 3 chunks). */
    private static final String LONG = "a very detailed painting of a lighthouse on a rocky coast at dusk with waves ".repeat(8).strip();
    private static StableDiffusion model;
    private static Backend cpu;
    private static NetworkRunner runner;
    private static ClipConditioner conditioner;
    private static PromptChunker chunker;

    @BeforeAll
    static void open() {
        model = StableDiffusion.load(TinySd.modelDir(), null);
        cpu = Backends.create("cpu");
        runner = new NetworkRunner(cpu, Precision.F32);
        conditioner = (ClipConditioner) model.conditioner();
        chunker = new PromptChunker(conditioner.tokenizer());
    }

    @AfterAll
    static void close() {
        runner.close();
        cpu.close();
        model.close();
    }

    /** The encoder's hidden states [77, dim] for one chunk, weighted by {@link Emphasis}. */
    private static float[] encoded(TokenChunk chunk) {
        try (Tensor ids = Tensor.ofLongs(Shape.of(1, 77), chunk.ids())) {
            List<Tensor> out = HostRunner.run(cpu, model.textEncoder().graph(1), List.of(ids));
            float[] z = out.getFirst().toFloatArray();
            out.forEach(Tensor::close);
            Emphasis.apply(z, 0, chunk, model.textEncoder().hiddenSize());
            return z;
        }
    }

    private static float[] context(String prompt, String negative, boolean guided, Shape expected) {
        try (Conditioning c = conditioner.encode(new ConditioningInput(prompt, negative, guided, 32, 32), runner);
             Tensor host = cpu.download(c.context())) {
            assertThat(host.shape()).isEqualTo(expected);
            return host.toFloatArray();
        }
    }

    private static void checkBlock(String label, float[] context, int row, int chunk, int chunks, float[] expected) {
        int block = 77 * 32;
        int from = (row * chunks + chunk) * block;
        try (Tensor actual = Tensor.ofFloats(Shape.of(77, 32), Arrays.copyOfRange(context, from, from + block));
             Tensor reference = Tensor.ofFloats(Shape.of(77, 32), expected)) {
            Golden.check(label, actual, reference, 1e-6);
        }
    }

    @Test
    void aLongPromptIsEncodedChunkByChunkAndTheNegativeIsPaddedWithEmptyChunks() {
        List<TokenChunk> chunks = chunker.chunks(LONG);
        assertThat(chunks).hasSize(3);
        float[] context = context(LONG, "", true, Shape.of(2, 3 * 77, 32));
        float[] empty = encoded(chunker.emptyChunk());
        for (int c = 0; c < 3; c++) {
            checkBlock("long prompt chunk " + c, context, 1, c, 3, encoded(chunks.get(c)));
            checkBlock("negative padding chunk " + c, context, 0, c, 3, empty);
        }
        // the first chunk is what diffusers' truncation keeps (this prompt has no comma to backtrack to)
        assertThat(chunks.getFirst().ids()).containsExactly(conditioner.tokenizer().encode(LONG));
    }

    @Test
    void aLongNegativePromptPadsThePrompt() {
        float[] context = context("a horse", LONG, true, Shape.of(2, 3 * 77, 32));
        checkBlock("short prompt", context, 1, 0, 3, encoded(chunker.chunks("a horse").getFirst()));
        checkBlock("short prompt padding", context, 1, 2, 3, encoded(chunker.emptyChunk()));
        checkBlock("long negative chunk 2", context, 0, 2, 3, encoded(chunker.chunks(LONG).get(2)));
    }

    @Test
    void weightsScaleTheirTokensAndKeepTheChunkMean() {
        String weighted = "a (photograph:1.3) of an [astronaut] riding a horse";
        float[] context = context(weighted, "", false, Shape.of(1, 77, 32));
        TokenChunk chunk = chunker.chunks(weighted).getFirst();
        assertThat(chunk.ids()).containsExactly(conditioner.tokenizer().encode("a photograph of an astronaut riding a horse"));
        checkBlock("weighted prompt", context, 0, 0, 1, encoded(chunk));
        float[] plain = context("a photograph of an astronaut riding a horse", "", false, Shape.of(1, 77, 32));
        double meanWeighted = Arrays.stream(box(context)).average().orElseThrow();
        double meanPlain = Arrays.stream(box(plain)).average().orElseThrow();
        assertThat(meanWeighted).isCloseTo(meanPlain, org.assertj.core.data.Offset.offset(1e-6 * Math.abs(meanPlain) + 1e-7));
        assertThat(context).isNotEqualTo(plain);
    }

    @Test
    void breakGivesTwoChunks() {
        float[] context = context("a horse BREAK a photograph", "", false, Shape.of(1, 2 * 77, 32));
        checkBlock("before BREAK", context, 0, 0, 2, encoded(chunker.chunks("a horse").getFirst()));
        checkBlock("after BREAK", context, 0, 1, 2, encoded(chunker.chunks("a photograph").getFirst()));
    }

    private static double[] box(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
        }
        return d;
    }
}
