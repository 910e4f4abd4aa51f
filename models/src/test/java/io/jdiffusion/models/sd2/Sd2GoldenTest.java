package io.jdiffusion.models.sd2;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.HostRunner;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.core.safetensors.SafetensorsFile;
import io.jdiffusion.models.conditioning.ClipConditioner;
import io.jdiffusion.models.conditioning.Conditioning;
import io.jdiffusion.models.conditioning.ConditioningInput;
import io.jdiffusion.models.prompt.PromptAttention;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.models.testsupport.Golden;
import io.jdiffusion.models.testsupport.GoldenModel;
import io.jdiffusion.models.tokenizer.ClipTokenizer;
import io.jdiffusion.models.unet.UNet2DConditionModel;
import io.jdiffusion.models.unet.UNetCall;
import io.jdiffusion.models.vae.AutoencoderKL;
import io.jdiffusion.testdata.GoldenSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static io.jdiffusion.testdata.GoldenSet.tensor;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The SD 2.x-shaped tiny model (tiny-sd2) against diffusers, every golden case: the tokenizer with SD 2's "!"
 * pad token, the OpenCLIP-style text encoder (gelu; the penultimate layer is the folder's last), the UNet with
 * linear projections and per-block head counts, the VAE, and v-prediction pipelines with several samplers.
 * The scheduler cases run in SchedulerGoldenTest with the other sets'.
 */
class Sd2GoldenTest {
    private static final GoldenSet SET = GoldenSet.TINY_SD2;
    private static GoldenModel golden;
    private static StableDiffusion model;
    private static Backend cpu;
    private static ClipTokenizer tokenizer;

    @BeforeAll
    static void load() {
        golden = GoldenModel.open(SET);
        model = golden.model;
        cpu = golden.cpu;
        tokenizer = ((ClipConditioner) model.conditioner()).tokenizer();
    }

    @AfterAll
    static void close() {
        golden.close();
    }

    static Stream<String> tokenizerCases() {
        return SET.caseNames().stream().filter(n -> n.matches("tokenizer_\\d+"));
    }

    @ParameterizedTest
    @MethodSource("tokenizerCases")
    void tokenizerPadsWithExclamationMarkAndSplitsItOffAsASpecialToken(String name) {
        JsonNode c = SET.goldenCase(name);
        String prompt = c.get("prompt").asText();
        assertThat(tokenizer.padId()).isZero();
        try (SafetensorsFile f = SET.golden("tokenizer.safetensors")) {
            assertThat(tokenizer.encode(prompt)).as(name).containsExactly(tensor(f, c, "tokenizer.input_ids").toLongArray());
        }
        long[] untruncated = new long[c.get("tokenizer.untruncated_ids").size()];
        for (int i = 0; i < untruncated.length; i++) {
            untruncated[i] = c.get("tokenizer.untruncated_ids").get(i).asLong();
        }
        assertThat(tokenizer.untruncatedIds(prompt)).as(name).containsExactly(untruncated);
        List<String> tokens = new ArrayList<>();
        c.get("tokenizer.tokens").forEach(t -> tokens.add(t.asText()));
        assertThat(tokenizer.tokens(prompt)).as(name).containsExactlyElementsOf(tokens);
    }

    @Test
    void tokenizerBatchRows() {
        JsonNode c = SET.goldenCase("tokenizer_batch");
        try (SafetensorsFile f = SET.golden("tokenizer.safetensors")) {
            long[] ids = tensor(f, c, "tokenizer.input_ids").toLongArray();
            for (int row = 0; row < 2; row++) {
                long[] expected = java.util.Arrays.copyOfRange(ids, row * 77, row * 77 + 77);
                assertThat(tokenizer.encode(c.get("prompts").get(row).asText())).containsExactly(expected);
            }
        }
    }

    @Test
    void textEncoderHiddenStatesWithGelu() {
        JsonNode c = SET.goldenCase("text_encoder");
        assertThat(model.textEncoder().config().activation()).isEqualTo(io.jdiffusion.backend.graph.Activation.GELU);
        try (SafetensorsFile f = SET.golden("text_encoder.safetensors")) {
            Graph g = model.textEncoder().graph(3, true);
            List<Tensor> out = HostRunner.run(cpu, g, List.of(tensor(f, c, "input_ids")));
            Golden.check("sd2 text_encoder last_hidden_state", out.getFirst(), tensor(f, c, "last_hidden_state"), 1e-5);
            Tensor hidden = tensor(f, c, "hidden_states");
            int layers = (int) hidden.shape().dim(0);
            assertThat(out).hasSize(1 + layers);
            for (int i = 0; i < layers; i++) {
                Golden.check("sd2 text_encoder hidden_states[" + i + "]", out.get(1 + i),
                        hidden.slice(i, i + 1).reshape(3, 77, 32), 1e-5);
            }
            out.forEach(Tensor::close);
        }
    }

    @Test
    void unetCaseABlockByBlock() {
        JsonNode c = SET.goldenCase("unet_a");
        UNet2DConditionModel unet = model.unet();
        assertThat(unet.config().useLinearProjection()).isTrue();
        assertThat(unet.config().attentionHeads()).containsExactly(2, 4);
        assertThat(unet.predictionType()).isEqualTo("v_prediction");
        List<String> taps = unet.tapNames();
        try (SafetensorsFile f = SET.golden("unet.safetensors");
             Tensor t = Tensor.ofFloats(Shape.of(2), 981, 981)) {
            assertThat(tensor(f, c, "timestep").getLong(0)).isEqualTo(981);
            golden.checkNetwork("sd2 unet_a", unet.graph(new UNetCall(2, 16, 16, 77), taps),
                    List.of(tensor(f, c, "sample"), t, tensor(f, c, "encoder_hidden_states")), "noise_pred",
                    taps, role -> tensor(f, c, role), 1e-5);
        }
    }

    @Test
    void unetCaseBFractionalTimesteps() {
        JsonNode c = SET.goldenCase("unet_b");
        try (SafetensorsFile f = SET.golden("unet.safetensors")) {
            golden.checkNetwork("sd2 unet_b", model.unet().graph(new UNetCall(2, 8, 8, 77)),
                    List.of(tensor(f, c, "sample"), tensor(f, c, "timestep"), tensor(f, c, "encoder_hidden_states")),
                    "noise_pred", List.of(), role -> tensor(f, c, role), 1e-5);
        }
    }

    @Test
    void vaeDecodeBlockByBlock() {
        JsonNode c = SET.goldenCase("vae_decode");
        AutoencoderKL vae = model.vae();
        assertThat(vae.scalingFactor()).isEqualTo(0.18215f);
        List<String> taps = vae.decoderTapNames();
        try (SafetensorsFile f = SET.golden("vae.safetensors")) {
            golden.checkNetwork("sd2 vae_decode", vae.decoderGraph(1, 16, 16, taps), List.of(tensor(f, c, "z")),
                    "sample", taps, role -> tensor(f, c, role), 1e-5);
        }
    }

    @Test
    void promptEmbeddingsPaddedWithExclamationMarks() {
        JsonNode c = SET.goldenCase("pipeline_prompt_embeds");
        String prompt = c.get("prompt").asText();
        try (SafetensorsFile f = SET.golden("pipeline.safetensors");
             Conditioning plain = golden.pipeline.encodePrompt(new ConditioningInput(prompt, "", true, 32, 32));
             Tensor plainHost = cpu.download(plain.context());
             Conditioning negative = golden.pipeline.encodePrompt(new ConditioningInput(prompt, c.get("negative_prompt").asText(), true, 32, 32));
             Tensor negativeHost = cpu.download(negative.context())) {
            Golden.check("sd2 pipeline_prompt_embeds", plainHost, tensor(f, c, "prompt_embeds"), 1e-5);
            Golden.check("sd2 pipeline_prompt_embeds negative", negativeHost, tensor(f, c, "prompt_embeds_negative"), 1e-5);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"pipeline_ddim", "pipeline_euler", "pipeline_dpmpp_2m_negative", "pipeline_ddim_nonsquare"})
    void vPredictionPipelinesMatchDiffusers(String name) {
        JsonNode c = SET.goldenCase(name);
        try (SafetensorsFile f = SET.golden("pipeline.safetensors")) {
            // diffusers reads brackets as text (pipeline_ddim_nonsquare has "(masterpiece:1.2)"): escape them
            golden.checkPipeline("sd2 " + name, f, c, PromptAttention.literal(c.get("prompt").asText()));
        }
    }
}
