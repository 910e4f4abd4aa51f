package io.jdiffusion.models.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.core.safetensors.SafetensorsFile;
import io.jdiffusion.models.scheduler.Sampler;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.models.testsupport.Golden;
import io.jdiffusion.models.testsupport.PipelineFixture;
import io.jdiffusion.models.unet.UNetCall;
import io.jdiffusion.testdata.TinySd;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import javax.imageio.ImageIO;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Inpainting against diffusers' StableDiffusionInpaintPipeline on the tiny 9-channel model (golden set
 * tiny-sd-inpaint): the 9-channel UNet, the mask and masked image, and whole DDIM chains at strength 1
 * and 0.75 from the PNG files, as {@code generate --mask} reads them.
 */
class InpaintGoldenTest {
    private static final Path SET = TinySd.set("tiny-sd-inpaint");
    private static PipelineFixture fixture;
    private static StableDiffusion model;
    private static Backend cpu;
    private static StableDiffusionPipeline pipeline;
    private static SafetensorsFile golden;
    private static JsonNode index;

    @BeforeAll
    static void load() throws IOException {
        fixture = PipelineFixture.open(SET.resolve("model"));
        model = fixture.model();
        cpu = fixture.cpu();
        pipeline = fixture.pipeline();
        golden = SafetensorsFile.open(SET.resolve("golden/pipeline.safetensors"));
        index = new ObjectMapper().readTree(SET.resolve("golden/index.json").toFile());
    }

    @AfterAll
    static void close() {
        golden.close();
        fixture.close();
    }

    private static JsonNode goldenCase(String name) {
        for (JsonNode c : index.get("cases")) {
            if (c.get("name").asText().equals(name)) {
                return c;
            }
        }
        throw new IllegalArgumentException(name);
    }

    private static Tensor tensor(JsonNode c, String role) {
        return golden.tensor(c.get("tensors").get(role).get("key").asText());
    }

    private static Tensor png(String file, boolean mask) throws IOException {
        var image = ImageIO.read(SET.resolve("golden").resolve(file).toFile());
        return mask ? BufferedImages.maskFromBufferedImage(image, 32, 32) : BufferedImages.fromBufferedImage(image, 32, 32);
    }

    @Test
    void nineChannelUNetMatchesDiffusers() {
        try (SafetensorsFile unetGolden = SafetensorsFile.open(SET.resolve("golden/unet.safetensors"))) {
            assertThat(model.unet().inChannels()).isEqualTo(9);
            Graph g = model.unet().graph(new UNetCall(2, 16, 16, 77));
            long t = unetGolden.tensor("a.timestep").getLong(0);
            try (Tensor timestep = Tensor.ofFloats(Shape.of(2), t, t)) {
                List<Tensor> out = io.jdiffusion.backend.HostRunner.run(cpu, g, List.of(unetGolden.tensor("a.sample"),
                        timestep, unetGolden.tensor("a.encoder_hidden_states")));
                Golden.check("inpaint unet_a noise_pred", out.getFirst(), unetGolden.tensor("a.noise_pred"));
                out.forEach(Tensor::close);
            }
        }
    }

    /** The PNGs read as diffusers reads them: the image exactly, the mask binarised to the golden mask_condition. */
    @Test
    void imageMaskAndMaskedImageMatchDiffusers() throws IOException {
        JsonNode c = goldenCase("pipeline_ddim_strength1");
        try (Tensor image = png("inpaint_init.png", false); Tensor mask = png("inpaint_mask.png", true);
             Tensor signed = Images.toSignedRange(image)) {
            assertThat(signed.toFloatArray()).containsExactly(tensor(c, "init_image").toFloatArray());
            float[] condition = tensor(c, "mask_condition").toFloatArray();
            float[] grey = mask.toFloatArray();
            int grey01 = 0;
            for (int i = 0; i < grey.length; i++) {
                assertThat(grey[i] < 0.5f ? 0f : 1f).as("mask pixel %d (%s)", i, grey[i]).isEqualTo(condition[i]);
                grey01 += grey[i] > 0 && grey[i] < 1 ? 1 : 0;
            }
            assertThat(grey01).as("the PNG has grey edges, so binarisation is exercised").isPositive();
            InpaintMask m = new InpaintMask(mask, 32, 32);
            try (Tensor masked = m.maskedImage(image); Tensor maskedSigned = Images.toSignedRange(masked)) {
                float[] expected = tensor(c, "masked_image").toFloatArray();
                float[] actual = maskedSigned.toFloatArray();
                for (int i = 0; i < expected.length; i++) {
                    // == rather than equals: diffusers multiplies negative pixels by 0 and gets -0.0
                    assertThat(actual[i] == expected[i]).as("masked image value %d: %s vs %s", i, actual[i], expected[i]).isTrue();
                }
            }
            float[] latentMask = tensor(c, "mask").toFloatArray();
            assertThat(m.latent(16, 16)).containsExactly(java.util.Arrays.copyOf(latentMask, 256));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"pipeline_ddim_strength1", "pipeline_ddim_strength075"})
    void wholeChainsMatchDiffusers(String name) throws IOException {
        JsonNode c = goldenCase(name);
        try (Tensor image = png("inpaint_init.png", false); Tensor mask = png("inpaint_mask.png", true)) {
            GenerationRequest request = GenerationRequest.builder().prompt(c.get("prompt").asText()).sampler(Sampler.DDIM)
                    .seed(c.get("seed").asLong()).steps(c.get("num_inference_steps").asInt())
                    .guidanceScale((float) c.get("guidance_scale").asDouble()).size(32, 32)
                    .initImage(image, (float) c.get("strength").asDouble()).mask(mask).build();
            try (GenerationResult result = pipeline.generate(request, ProgressListener.NONE);
                 Tensor latents = Tensor.ofFloats(Shape.of(1, 4, 16, 16), result.latents())) {
                assertThat(result.timings().unetCalls()).isEqualTo(c.get("timesteps_list").size());
                Golden.check(name + " final_latents", latents, tensor(c, "final_latents"));
                Golden.check(name + " image", result.image(), tensor(c, "image"));
            }
        }
    }

    @Test
    void anInpaintingModelNeedsAMask() {
        GenerationRequest request = GenerationRequest.builder().prompt("x").steps(2).size(32, 32).build();
        assertThatThrownBy(() -> pipeline.generate(request, ProgressListener.NONE)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("inpainting model").hasMessageContaining("mask");
    }
}
