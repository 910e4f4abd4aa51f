package io.jdiffusion.server.jobs;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.models.pipeline.A1111Infotext;
import io.jdiffusion.models.pipeline.GenerationRequest;
import io.jdiffusion.models.pipeline.GenerationResult;
import io.jdiffusion.models.pipeline.BufferedImages;
import io.jdiffusion.models.pipeline.ProgressListener;
import io.jdiffusion.models.pipeline.StableDiffusionPipeline;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.models.lora.LoraException;
import io.jdiffusion.server.api.InvalidRequestException;
import io.jdiffusion.server.api.ModelFacts;

import java.util.Map;

/**
 * Images from one long-lived {@link StableDiffusionPipeline} (the loaded checkpoint of {@link ModelSwitcher}):
 * the pipeline keeps every network it compiled, so each image shape is compiled once while it is loaded.
 */
final class PipelineGenerator {
    private final StableDiffusionPipeline pipeline;
    private final ModelFacts facts;
    private final LoraFolder loras;

    /** Reads the model's hash now (once per file version: it is cached), so no request waits for it. */
    PipelineGenerator(StableDiffusionPipeline pipeline, LoraFolder loras) {
        this.pipeline = pipeline;
        this.loras = loras;
        StableDiffusion model = pipeline.model();
        this.facts = new ModelFacts(model.identity().name(), model.identity().autoV2Hash().orElse(null),
                model.defaultSampler().cliName(), pipeline.defaultWidth(), pipeline.defaultHeight(), model.vae().downscaleFactor(),
                model.unet().inChannels() != model.vae().latentChannels());
    }

    ModelFacts model() {
        return facts;
    }

    LatentPreview latentPreview() {
        return pipeline.model().textEncoder2() != null ? LatentPreview.SDXL : LatentPreview.SD;
    }

    /** Runs the request with the server's LoRA folder, where its prompt's {@code <lora:NAME:W>} tags are looked up. */
    ImageGenerator.Image generate(GenerationRequest asked, Map<String, Object> extraInfotext, ProgressListener listener) {
        GenerationRequest request = asked.toBuilder().loraDir(loras.dir()).build();
        try (GenerationResult result = pipeline.generate(request, listener)) {
            int width = request.size().width() == 0 ? facts.defaultWidth() : request.size().width();
            int height = request.size().height() == 0 ? facts.defaultHeight() : request.size().height();
            A1111Infotext.Builder infotext = A1111Infotext.generation(request, pipeline.model(), width, height);
            extraInfotext.forEach(infotext::put);
            return new ImageGenerator.Image(BufferedImages.toBufferedImage(result.image()), infotext.build(), result.warnings());
        } catch (LoraException e) {
            // A name that is not in the folder is "not found"; a file that does not fit the model is a bad value.
            int status = e.getMessage() != null && e.getMessage().startsWith("no LoRA named") ? 404 : 422;
            throw new InvalidRequestException(status, "prompt", loras.hideLocation(e.getMessage()));
        }
    }

    ImageGenerator.DeviceMemory memory() {
        Backend backend = pipeline.backend();
        return new ImageGenerator.DeviceMemory(backend.name() + " (" + backend.deviceDescription() + ")", backend.deviceBytesInUse(),
                backend.peakDeviceBytes());
    }
}
