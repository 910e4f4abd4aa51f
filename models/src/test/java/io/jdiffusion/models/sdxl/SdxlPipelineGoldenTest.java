package io.jdiffusion.models.sdxl;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.backend.Backend;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.core.safetensors.SafetensorsFile;
import io.jdiffusion.models.conditioning.Conditioning;
import io.jdiffusion.models.conditioning.ConditioningInput;
import io.jdiffusion.models.conditioning.SizeConditioning;
import io.jdiffusion.models.scheduler.Sampler;
import io.jdiffusion.models.pipeline.StableDiffusionPipeline;
import io.jdiffusion.models.prompt.PromptAttention;
import io.jdiffusion.models.testsupport.Golden;
import io.jdiffusion.models.testsupport.GoldenModel;
import io.jdiffusion.models.tokenizer.ClipTokenizer;
import io.jdiffusion.models.unet.UNet2DConditionModel;
import io.jdiffusion.testdata.GoldenSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Arrays;
import java.util.stream.Stream;

import static io.jdiffusion.testdata.GoldenSet.tensor;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The SDXL-shaped tiny model (tiny-sdxl) through the pipeline against diffusers' StableDiffusionXLPipeline:
 * both tokenizers, the prompt embeddings (zeros for no negative prompt), the time ids, and Euler / DPM++ 2M
 * runs with and without a negative prompt, square and not.
 */
class SdxlPipelineGoldenTest {
    private static final GoldenSet SET = GoldenSet.TINY_SDXL;
    private static GoldenModel golden;
    private static Backend cpu;
    private static StableDiffusionPipeline pipeline;

    @BeforeAll
    static void load() {
        golden = GoldenModel.open(SET);
        cpu = golden.cpu;
        pipeline = golden.pipeline;
    }

    @AfterAll
    static void close() {
        golden.close();
    }

    static Stream<String> tokenizerCases() {
        return SET.caseNames().stream().filter(n -> n.startsWith("tokenizer_"));
    }

    /** tokenizer pads with EOS and reads '!' through BPE; tokenizer_2 pads with '!' = 0 and splits it off first. */
    @ParameterizedTest
    @MethodSource("tokenizerCases")
    void bothTokenizersMatchTransformers(String name) {
        JsonNode c = SET.goldenCase(name);
        try (SafetensorsFile f = SET.golden("tokenizer.safetensors")) {
            for (String tok : new String[]{"tokenizer", "tokenizer_2"}) {
                ClipTokenizer tokenizer = ClipTokenizer.load(SET.modelDir().resolve(tok));
                long[] expected = tensor(f, c, tok + ".input_ids").toLongArray();
                JsonNode prompts = c.has("prompts") ? c.get("prompts") : null;
                int rows = prompts == null ? 1 : prompts.size();
                for (int r = 0; r < rows; r++) {
                    String prompt = prompts == null ? c.get("prompt").asText() : prompts.get(r).asText();
                    assertThat(tokenizer.encode(prompt)).as(name + " " + tok + " row " + r)
                            .containsExactly(Arrays.copyOfRange(expected, r * 77, r * 77 + 77));
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"pipeline_prompt_embeds_noneg", "pipeline_prompt_embeds_neg"})
    void promptEmbeddingsAndPooledEmbeds(String name) {
        JsonNode c = SET.goldenCase(name);
        String negative = c.get("negative_prompt").isNull() ? "" : c.get("negative_prompt").asText();
        try (SafetensorsFile f = SET.golden("pipeline.safetensors");
             Conditioning cond = pipeline.encodePrompt(new ConditioningInput(c.get("prompt").asText(), negative, true, 32, 32));
             Tensor context = cpu.download(cond.context());
             Tensor pooled = cpu.download(cond.pooled());
             Tensor textEmbeds = cpu.download(cond.addedInputs().get(UNet2DConditionModel.TEXT_EMBEDS))) {
            assertThat(cond.addedInputs().keySet()).containsExactly(UNet2DConditionModel.TEXT_EMBEDS, UNet2DConditionModel.TIME_IDS);
            Golden.check("sdxl " + name + " negative_prompt_embeds", context.slice(0, 1), tensor(f, c, "negative_prompt_embeds"), 1e-5);
            Golden.check("sdxl " + name + " prompt_embeds", context.slice(1, 2), tensor(f, c, "prompt_embeds"), 1e-5);
            Golden.check("sdxl " + name + " negative_pooled", pooled.slice(0, 1), tensor(f, c, "negative_pooled_prompt_embeds"), 1e-5);
            Golden.check("sdxl " + name + " pooled", pooled.slice(1, 2), tensor(f, c, "pooled_prompt_embeds"), 1e-5);
            assertThat(textEmbeds.toFloatArray()).containsExactly(pooled.toFloatArray());
            if (negative.isEmpty()) {
                assertThat(context.slice(0, 1).toFloatArray()).containsOnly(0f);
                assertThat(pooled.slice(0, 1).toFloatArray()).containsOnly(0f);
            }
        }
    }

    @Test
    void timeIdsFromSizeCropAndTarget() {
        JsonNode c = SET.goldenCase("time_ids");
        float[] expected;
        try (SafetensorsFile f = SET.golden("pipeline.safetensors")) {
            expected = tensor(f, c, "time_ids").toFloatArray();
        }
        assertThat(SizeConditioning.DEFAULT.timeIds(32, 32)).containsExactly(Arrays.copyOfRange(expected, 0, 6));
        assertThat(SizeConditioning.DEFAULT.timeIds(48, 32)).containsExactly(Arrays.copyOfRange(expected, 6, 12));
        // original_size (h, w) = (96, 64), crops_coords_top_left = (4, 8), target_size (h, w) = (48, 32)
        assertThat(new SizeConditioning(64, 96, 4, 8, 32, 48).timeIds(32, 48)).containsExactly(Arrays.copyOfRange(expected, 12, 18));
        try (Conditioning cond = pipeline.encodePrompt(new ConditioningInput("a", "", true, 32, 48,
                new SizeConditioning(64, 96, 4, 8, 32, 48)));
             Tensor ids = cpu.download(cond.addedInputs().get(UNet2DConditionModel.TIME_IDS))) {
            assertThat(ids.shape().dims()).containsExactly(2, 6);
            assertThat(ids.toFloatArray()).containsExactly(96, 64, 4, 8, 48, 32, 96, 64, 4, 8, 48, 32);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"pipeline_euler", "pipeline_dpmpp_2m", "pipeline_euler_negative", "pipeline_euler_nonsquare"})
    void pipelinesMatchDiffusers(String name) {
        JsonNode c = SET.goldenCase(name);
        assertThat(golden.model.defaultSampler()).isEqualTo(Sampler.EULER);
        try (SafetensorsFile f = SET.golden("pipeline.safetensors")) {
            // diffusers reads brackets as text (pipeline_euler_nonsquare has "(masterpiece:1.2)"): escape them
            golden.checkPipeline("sdxl " + name, f, c, PromptAttention.literal(c.get("prompt").asText()));
        }
    }
}
