package io.jdiffusion.models.pipeline;

import io.jdiffusion.models.scheduler.Schedule;
import io.jdiffusion.models.conditioning.ConditioningInput;
import io.jdiffusion.models.conditioning.Conditioning;
import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.core.safetensors.SafetensorsFile;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.models.testsupport.Golden;
import io.jdiffusion.models.testsupport.TinyModelFixture;
import io.jdiffusion.testdata.TinySd;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The whole pipeline on the tiny model against diffusers: the shared goldens (explicit initial latents,
 * every step) and the extra seeded goldens (the seed draws everything, as ./jdiffusion generate --seed).
 */
class PipelineGoldenTest {
    private static final String PROMPT = "a photograph of an astronaut riding a horse";
    private static TinyModelFixture fixture;
    private static StableDiffusion model;
    private static Backend backend;
    private static StableDiffusionPipeline pipeline;
    private static SafetensorsFile golden;
    private static SafetensorsFile extra;

    @BeforeAll
    static void load() {
        fixture = TinyModelFixture.open("pipeline.safetensors");
        model = fixture.model;
        backend = fixture.cpu;
        golden = fixture.golden;
        pipeline = new StableDiffusionPipeline(model, backend, Precision.F32);
        extra = SafetensorsFile.open(TinySd.root().resolve("tiny-sd/golden-extra/pipeline_extra.safetensors"));
    }

    @AfterAll
    static void close() {
        pipeline.close();
        extra.close();
        fixture.close();
    }

    @Test
    void promptEmbeddingsMatchDiffusers() {
        JsonNode c = TinySd.goldenCase("pipeline_prompt_embeds");
        try (Conditioning conditioning = pipeline.encodePrompt(new ConditioningInput(PROMPT, "", true, 32, 32));
             Tensor actual = backend.download(conditioning.context())) {
            Golden.check("pipeline_prompt_embeds", actual, golden.tensor(c.get("tensors").get("prompt_embeds").get("key").asText()));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"pndm", "ddim", "euler", "dpmpp_2m", "lms"})
    void givenLatentsEverySamplerMatchesDiffusers(String sampler) {
        JsonNode c = TinySd.goldenCase("pipeline_" + sampler);
        float[] init = tensor(c, "init_latents").toFloatArray();
        GenerationRequest request = GenerationRequest.builder().prompt(PROMPT).sampler(sampler).size(32, 32)
                .initialNoise(init).build();
        try (GenerationResult result = pipeline.generate(request, ProgressListener.NONE)) {
            check("pipeline_" + sampler, result, tensor(c, "final_latents"), tensor(c, "image"), 1e-4);
        }
    }

    @Test
    void eulerAncestralDrawsAllItsNoiseFromTheSeed() {
        JsonNode c = TinySd.goldenCase("pipeline_euler_a");
        GenerationRequest request = GenerationRequest.builder().prompt(PROMPT).seed(1234).sampler("euler_a").size(32, 32).build();
        try (GenerationResult result = pipeline.generate(request, ProgressListener.NONE)) {
            check("pipeline_euler_a", result, tensor(c, "final_latents"), tensor(c, "image"), 1e-4);
        }
    }

    @Test
    void latentsOnlyOutputSkipsTheVaeAndKeepsTheLatents() {
        JsonNode c = TinySd.goldenCase("pipeline_ddim");
        GenerationRequest request = GenerationRequest.builder().prompt(PROMPT).sampler("ddim").size(32, 32)
                .initialNoise(tensor(c, "init_latents").toFloatArray()).decodeImage(false).build();
        try (GenerationResult result = pipeline.generate(request, ProgressListener.NONE);
             Tensor latents = Tensor.ofFloats(tensor(c, "final_latents").shape(), result.latents())) {
            assertThat(result.image()).isNull();
            Golden.check("pipeline_ddim final latents, latents only", latents, tensor(c, "final_latents"), 1e-4);
        }
    }

    @Test
    void unguidedConditioningHasOneRow() {
        try (Conditioning guided = pipeline.encodePrompt(new ConditioningInput(PROMPT, "", true, 32, 32));
             Conditioning unguided = pipeline.encodePrompt(new ConditioningInput(PROMPT, "ignored", false, 32, 32));
             Tensor both = backend.download(guided.context());
             Tensor one = backend.download(unguided.context())) {
            assertThat(guided.batch()).isEqualTo(2);
            assertThat(unguided.batch()).isEqualTo(1);
            assertThat(unguided.tokens()).isEqualTo(77);
            assertThat(unguided.addedInputs()).isEmpty();
            float[] second = java.util.Arrays.copyOfRange(both.toFloatArray(), one.toFloatArray().length, both.toFloatArray().length);
            assertThat(one.toFloatArray()).containsExactly(second);
        }
    }

    @Test
    void aStopRequestEndsDenoisingAndDecodesTheLatentsSoFar() {
        GenerationRequest request = GenerationRequest.builder().prompt(PROMPT).seed(99).sampler("euler").size(32, 32).steps(6).build();
        List<float[]> seen = new ArrayList<>();
        ProgressListener recorder = new ProgressListener() {
            @Override
            public void latentsAfterStep(int index, float[] latents, int channels, int height, int width) {
                assertThat(index).isEqualTo(seen.size());
                assertThat(channels * height * width).isEqualTo(latents.length).isEqualTo(4 * 16 * 16);
                seen.add(latents.clone());
            }
        };
        try (GenerationResult full = pipeline.generate(request, recorder)) {
            assertThat(seen).hasSize(6);
            assertThat(full.latents()).containsExactly(seen.get(5));
        }
        int[] asked = {0};
        ProgressListener stopAfterThree = new ProgressListener() {
            @Override
            public boolean stopRequested() {
                return asked[0]++ == 3;
            }
        };
        try (GenerationResult stopped = pipeline.generate(request, stopAfterThree);
             Tensor expectedImage = pipeline.decodeLatents(seen.get(2), 16, 16)) {
            assertThat(stopped.timings().unetCalls()).isEqualTo(3);
            assertThat(stopped.latents()).containsExactly(seen.get(2));
            assertThat(stopped.image().toFloatArray()).containsExactly(expectedImage.toFloatArray());
        }
    }

    static Stream<String> extraCases() {
        List<String> names = new ArrayList<>();
        extraIndex().get("cases").forEach(c -> names.add(c.get("name").asText()));
        return names.stream();
    }

    /**
     * Every seeded case except the one whose prompt is longer than 77 tokens: diffusers truncates it, while
     * jdiffusion encodes all of it in chunks as A1111 does (ClipConditionerTest checks that prompt's chunks).
     */
    @ParameterizedTest
    @MethodSource("extraCases")
    void seededRunsMatchDiffusers(String name) {
        JsonNode c = extraCase(name);
        org.junit.jupiter.api.Assumptions.assumeTrue(
                ((io.jdiffusion.models.conditioning.ClipConditioner) model.conditioner()).tokenizer()
                        .untruncatedLength(c.get("prompt").asText()) <= 77, "diffusers truncates this prompt");
        Tensor initImage = null;
        int width = c.get("width").asInt();
        int height = c.get("height").asInt();
        if (!c.get("strength").isNull()) {
            initImage = imageFromPixels(extra.tensor(name + ".init_image_u8"), width, height);
        }
        GenerationRequest request = GenerationRequest.builder().prompt(c.get("prompt").asText())
                .negativePrompt(c.get("negative").asText()).seed(c.get("seed").asLong()).sampler(c.get("sampler").asText())
                .schedule(c.get("karras").asBoolean() ? Schedule.KARRAS : Schedule.DEFAULT).steps(c.get("steps").asInt())
                .guidanceScale((float) c.get("guidance").asDouble()).size(width, height).eta((float) c.get("eta").asDouble())
                .initImage(initImage, c.get("strength").isNull() ? 0.8f : (float) c.get("strength").asDouble()).build();
        try (GenerationResult result = pipeline.generate(request, ProgressListener.NONE)) {
            check(name, result, extra.tensor(name + ".final_latents"), extra.tensor(name + ".image"), 1e-3);
        } finally {
            if (initImage != null) {
                initImage.close();
            }
        }
    }

    private static void check(String name, GenerationResult result, Tensor expectedLatents, Tensor expectedImage, double tolerance) {
        try (Tensor latents = Tensor.ofFloats(expectedLatents.shape(), result.latents())) {
            Golden.check(name + " final latents", latents, expectedLatents, tolerance);
        }
        Golden.check(name + " image", result.image(), expectedImage, tolerance);
    }

    /** [H, W, 3] uint8 pixels (stored as I64) to [1, 3, H, W] in [0, 1], as the CLI reads a PNG. */
    static Tensor imageFromPixels(Tensor pixels, int width, int height) {
        Tensor t = Tensor.allocate(Shape.of(1, 3, height, width), io.jdiffusion.core.DType.F32);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                for (int ch = 0; ch < 3; ch++) {
                    t.setFloat((long) ch * height * width + (long) y * width + x, pixels.getLong(((long) y * width + x) * 3 + ch) / 255f);
                }
            }
        }
        return t;
    }

    private static Tensor tensor(JsonNode c, String role) {
        return golden.tensor(c.get("tensors").get(role).get("key").asText());
    }

    static JsonNode extraIndex() {
        try {
            return new com.fasterxml.jackson.databind.ObjectMapper()
                    .readTree(TinySd.root().resolve("tiny-sd/golden-extra/pipeline_extra.json").toFile());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static JsonNode extraCase(String name) {
        for (JsonNode c : extraIndex().get("cases")) {
            if (c.get("name").asText().equals(name)) {
                return c;
            }
        }
        throw new IllegalArgumentException(name);
    }
}
