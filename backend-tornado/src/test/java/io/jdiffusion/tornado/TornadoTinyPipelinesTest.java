package io.jdiffusion.tornado;

import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.testing.TestRandom;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Numerics;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.lora.LoraUse;
import io.jdiffusion.models.pipeline.GenerationRequest;
import io.jdiffusion.models.pipeline.GenerationResult;
import io.jdiffusion.models.pipeline.ProgressListener;
import io.jdiffusion.models.pipeline.StableDiffusionPipeline;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.testdata.GoldenSet;
import io.jdiffusion.testdata.TinySd;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The other tiny pipelines on the TornadoVM device equal backend-cpu, F32, relative L2 at most 1e-4 on the final
 * latents and the image: SD 2.x (v-prediction, linear projections, per-block heads), SDXL (two text encoders, the
 * UNet's text_embeds and time_ids inputs, the VAE in F32 where the config says force_upcast), a LoRA merged into
 * the SD 1.5-shaped model, image-to-image, and inpainting (the 9-channel inpainting UNet, and latent blending on
 * the 4-channel model). backend-cpu matches diffusers on each (the models' golden tests),
 * so this carries that to the GPU backend. Three Euler steps at 32x32 keep the kernel builds on PoCL short.
 */
class TornadoTinyPipelinesTest extends TornadoBesideCpu {
    private static final double TOLERANCE = 1e-4;
    private static final String PROMPT = "a photograph of an astronaut riding a horse";


    private static GenerationRequest.Builder euler() {
        return GenerationRequest.builder().prompt(PROMPT).negativePrompt("blurry").seed(7).sampler("euler").steps(3).size(32, 32);
    }

    @Test
    void sd2MatchesCpu() {
        check("tiny-sd2", GoldenSet.TINY_SD2.modelDir(), euler().build());
    }

    @Test
    void sdxlMatchesCpu() {
        check("tiny-sdxl", GoldenSet.TINY_SDXL.modelDir(), euler().size(32, 48).build());
    }

    @Test
    void loraMatchesCpu() {
        Path lora = TinySd.loraSetDir().resolve("lora/tiny_lora.safetensors");
        check("tiny-sd + LoRA 0.5", TinySd.modelDir(), euler().loras(List.of(LoraUse.of(lora, 0.5))).build());
    }

    @Test
    void imageToImageMatchesCpu() {
        TestRandom random = TestRandom.fresh();
        try (Tensor image = random.uniform(Shape.of(1, 3, 32, 32), 0, 1)) {
            check("tiny-sd img2img 0.6", TinySd.modelDir(), euler().initImage(image, 0.6f).build());
        }
    }

    @Test
    void inpaintingUNetMatchesCpu() {
        try (Tensor image = TestRandom.fresh().uniform(Shape.of(1, 3, 32, 32), 0, 1); Tensor mask = leftHalfMask()) {
            check("tiny-sd-inpaint 9-channel, strength 0.75", TinySd.set("tiny-sd-inpaint").resolve("model"),
                    euler().initImage(image, 0.75f).mask(mask).build());
        }
    }

    @Test
    void latentBlendingInpaintMatchesCpu() {
        try (Tensor image = TestRandom.fresh().uniform(Shape.of(1, 3, 32, 32), 0, 1); Tensor mask = leftHalfMask()) {
            check("tiny-sd inpaint by latent blending", TinySd.modelDir(), euler().initImage(image, 1f).mask(mask).build());
        }
    }

    /** White (repaint) on the left half, black on the right: both sides of the blend are exercised. */
    private static Tensor leftHalfMask() {
        Tensor mask = Tensor.allocate(Shape.of(1, 1, 32, 32), DType.F32);
        for (int y = 0; y < 32; y++) {
            for (int x = 0; x < 32; x++) {
                mask.setFloat((long) y * 32 + x, x < 16 ? 1f : 0f);
            }
        }
        return mask;
    }

    private void check(String label, Path modelDir, GenerationRequest request) {
        try (StableDiffusion model = StableDiffusion.load(modelDir, null);
             StableDiffusionPipeline onCpu = new StableDiffusionPipeline(model, cpu, Precision.F32);
             StableDiffusionPipeline onTornado = new StableDiffusionPipeline(model, tornado, Precision.F32);
             GenerationResult expected = onCpu.generate(request, ProgressListener.NONE);
             GenerationResult actual = onTornado.generate(request, ProgressListener.NONE)) {
            double latents = Numerics.relativeL2(actual.latents(), expected.latents());
            double image = Numerics.relativeL2(actual.image(), expected.image());
            System.out.printf(Locale.ROOT, "%s: latents relL2 %.3e image relL2 %.3e%n", label, latents, image);
            assertThat(latents).as("%s final latents", label).isLessThanOrEqualTo(TOLERANCE);
            assertThat(image).as("%s decoded image", label).isLessThanOrEqualTo(TOLERANCE);
        }
    }
}
