package io.jdiffusion.models.testsupport;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.HostRunner;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.core.safetensors.SafetensorsFile;
import io.jdiffusion.models.pipeline.GenerationRequest;
import io.jdiffusion.models.pipeline.GenerationResult;
import io.jdiffusion.models.pipeline.ProgressListener;
import io.jdiffusion.models.pipeline.StableDiffusionPipeline;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.testdata.GoldenSet;

import java.util.List;
import java.util.function.Function;

import static io.jdiffusion.testdata.GoldenSet.tensor;

/**
 * One bundled golden set's model, the CPU backend and an F32 pipeline on them (a {@link PipelineFixture}), with
 * the two checks its golden tests repeat: a network run against its recorded outputs, and a whole pipeline case
 * against diffusers' final latents and image.
 */
public final class GoldenModel implements AutoCloseable {
    public final GoldenSet set;
    public final StableDiffusion model;
    public final Backend cpu;
    public final StableDiffusionPipeline pipeline;
    private final PipelineFixture fixture;

    private GoldenModel(GoldenSet set) {
        this.set = set;
        this.fixture = PipelineFixture.open(set.modelDir());
        this.model = fixture.model();
        this.cpu = fixture.cpu();
        this.pipeline = fixture.pipeline();
    }

    public static GoldenModel open(GoldenSet set) {
        return new GoldenModel(set);
    }

    /**
     * Runs {@code graph} on the CPU backend and checks its first output against the golden tensor named
     * {@code output} and each tapped module's output against {@code after.<tap>}, as {@code golden} finds them.
     */
    public void checkNetwork(String label, Graph graph, List<Tensor> inputs, String output, List<String> taps,
                             Function<String, Tensor> golden, double tolerance) {
        List<Tensor> out = HostRunner.run(cpu, graph, inputs);
        try {
            Golden.check(label + " " + output, out.getFirst(), golden.apply(output), tolerance);
            Golden.checkTaps(label, out, taps, golden, tolerance);
        } finally {
            out.forEach(Tensor::close);
        }
    }

    /**
     * Runs the pipeline case {@code c} of {@code f} (its negative prompt, sampler, steps, guidance, size and
     * initial latents) with {@code prompt} and checks the final latents and the image against diffusers' to 1e-4.
     */
    public void checkPipeline(String label, SafetensorsFile f, JsonNode c, String prompt) {
        GenerationRequest request = GenerationRequest.builder().prompt(prompt)
                .negativePrompt(c.get("negative_prompt").isNull() ? "" : c.get("negative_prompt").asText())
                .sampler(c.get("sampler").asText()).steps(c.get("num_inference_steps").asInt())
                .guidanceScale((float) c.get("guidance_scale").asDouble()).size(c.get("width").asInt(), c.get("height").asInt())
                .initialNoise(tensor(f, c, "init_latents").toFloatArray()).build();
        try (GenerationResult result = pipeline.generate(request, ProgressListener.NONE);
             Tensor latents = Tensor.ofFloats(tensor(f, c, "final_latents").shape(), result.latents())) {
            Golden.check(label + " final latents", latents, tensor(f, c, "final_latents"), 1e-4);
            Golden.check(label + " image", result.image(), tensor(f, c, "image"), 1e-4);
        }
    }

    @Override
    public void close() {
        fixture.close();
    }
}
