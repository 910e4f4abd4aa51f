package io.jdiffusion.server.jobs;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.models.pipeline.GenerationRequest;
import io.jdiffusion.models.pipeline.GenerationResult;
import io.jdiffusion.models.pipeline.Images;
import io.jdiffusion.models.pipeline.ProgressListener;
import io.jdiffusion.models.pipeline.StableDiffusionPipeline;
import io.jdiffusion.server.api.ModelFacts;

/**
 * An {@link ImageGenerator} over one long-lived {@link StableDiffusionPipeline}: the pipeline keeps every
 * network it compiled, so each image shape is compiled once for the server's lifetime.
 */
public final class PipelineGenerator implements ImageGenerator {
    private final StableDiffusionPipeline pipeline;
    private final ModelFacts facts;

    /** @param title the checkpoint's name as clients see it (A1111's sd_model_checkpoint) */
    public PipelineGenerator(StableDiffusionPipeline pipeline, String title) {
        this.pipeline = pipeline;
        int factor = pipeline.model().vae().downscaleFactor();
        this.facts = new ModelFacts(title, pipeline.defaultWidth(), pipeline.defaultHeight(), factor);
    }

    @Override
    public ModelFacts model() {
        return facts;
    }

    @Override
    public Image generate(GenerationRequest request, ProgressListener listener) {
        try (GenerationResult result = pipeline.generate(request, listener)) {
            return new Image(Images.toBufferedImage(result.image()), result.warnings());
        }
    }

    @Override
    public DeviceMemory memory() {
        Backend backend = pipeline.backend();
        return new DeviceMemory(backend.name() + " (" + backend.deviceDescription() + ")", backend.deviceBytesInUse(),
                backend.peakDeviceBytes());
    }
}
