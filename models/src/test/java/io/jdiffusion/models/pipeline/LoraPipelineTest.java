package io.jdiffusion.models.pipeline;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.core.safetensors.SafetensorsFile;
import io.jdiffusion.models.lora.LoraException;
import io.jdiffusion.models.lora.LoraUse;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.models.testsupport.Golden;
import io.jdiffusion.testdata.TinySd;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The tiny-sd-lora pipeline golden (Euler, 20 steps, LoRA at 0.5 in the UNet and the text encoder) on the CPU
 * backend, with the LoRA given as a file and as a prompt tag, and the base model still giving its own
 * golden afterwards from the same pipeline.
 */
class LoraPipelineTest {
    private static final String PROMPT = "a photograph of an astronaut riding a horse";
    private static StableDiffusion model;
    private static Backend cpu;
    private static StableDiffusionPipeline pipeline;
    private static SafetensorsFile golden;
    private static SafetensorsFile base;
    private static Path loraDir;

    @BeforeAll
    static void open() {
        model = StableDiffusion.load(TinySd.modelDir(), null);
        cpu = Backends.create("cpu");
        pipeline = new StableDiffusionPipeline(model, cpu, Precision.F32);
        golden = SafetensorsFile.open(TinySd.loraSetDir().resolve("golden/lora.safetensors"));
        base = TinySd.golden("pipeline.safetensors");
        loraDir = TinySd.loraSetDir().resolve("lora");
    }

    @AfterAll
    static void close() {
        pipeline.close();
        base.close();
        golden.close();
        cpu.close();
        model.close();
    }

    private static GenerationRequest.Builder euler(String prompt) {
        return GenerationRequest.builder().prompt(prompt).sampler("euler").size(32, 32)
                .initialNoise(golden.tensor("init_latents").toFloatArray());
    }

    private static void check(String label, GenerationRequest request, SafetensorsFile file, String prefix) {
        try (GenerationResult result = pipeline.generate(request, ProgressListener.NONE);
             Tensor latents = Tensor.ofFloats(file.tensor(prefix + ".final_latents").shape(), result.latents())) {
            Golden.check(label + " final latents", latents, file.tensor(prefix + ".final_latents"), 1e-4);
            Golden.check(label + " image", result.image(), file.tensor(prefix + ".image"), 1e-4);
        }
    }

    @Test
    void aLoraFileAndAPromptTagBothMatchDiffusersAndTheBaseStaysAvailable() {
        check("pipeline lora file 0.5", euler(PROMPT)
                .loras(List.of(LoraUse.of(loraDir.resolve("tiny_lora.safetensors"), 0.5))).build(),
                golden, "pipeline_euler_lora_scale05");
        check("pipeline lora tag 0.5", euler(PROMPT + " <lora:tiny_lora:0.5>").loraDir(loraDir).build(),
                golden, "pipeline_euler_lora_scale05");
        check("pipeline base after lora", euler(PROMPT).build(), base, "euler");
    }

    @Test
    void aTagWithoutAFolderOrFileIsOneClearError() {
        assertThatThrownBy(() -> pipeline.generate(euler(PROMPT + " <lora:tiny_lora:0.5>").build(), ProgressListener.NONE))
                .isInstanceOf(LoraException.class).hasMessageContaining("--lora-dir");
        assertThatThrownBy(() -> pipeline.generate(euler(PROMPT + " <lora:missing:1>").loraDir(loraDir).build(),
                ProgressListener.NONE)).isInstanceOf(LoraException.class).hasMessageContaining("no LoRA named 'missing'");
    }
}
