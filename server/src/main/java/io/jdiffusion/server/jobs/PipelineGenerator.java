package io.jdiffusion.server.jobs;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.models.pipeline.A1111Infotext;
import io.jdiffusion.models.pipeline.GenerationRequest;
import io.jdiffusion.models.pipeline.GenerationResult;
import io.jdiffusion.models.pipeline.Images;
import io.jdiffusion.models.pipeline.ProgressListener;
import io.jdiffusion.models.pipeline.StableDiffusionPipeline;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.server.api.ModelFacts;

/**
 * An {@link ImageGenerator} over one long-lived {@link StableDiffusionPipeline}: the pipeline keeps every
 * network it compiled, so each image shape is compiled once for the server's lifetime.
 */
public final class PipelineGenerator implements ImageGenerator {
    private final StableDiffusionPipeline pipeline;
    private final ModelFacts facts;

    /** Reads the model's hash now (once per file version: it is cached), so no request waits for it. */
    public PipelineGenerator(StableDiffusionPipeline pipeline) {
        this.pipeline = pipeline;
        StableDiffusion model = pipeline.model();
        this.facts = new ModelFacts(model.identity().name(), model.identity().autoV2Hash().orElse(null),
                model.defaultSampler(), pipeline.defaultWidth(), pipeline.defaultHeight(), model.vae().downscaleFactor());
    }

    @Override
    public ModelFacts model() {
        return facts;
    }

    @Override
    public LatentPreview latentPreview() {
        return pipeline.model().textEncoder2() != null ? LatentPreview.SDXL : LatentPreview.SD;
    }

    @Override
    public Image generate(GenerationRequest request, ProgressListener listener) {
        try (GenerationResult result = pipeline.generate(request, listener)) {
            int width = request.size().width() == 0 ? facts.defaultWidth() : request.size().width();
            int height = request.size().height() == 0 ? facts.defaultHeight() : request.size().height();
            String infotext = A1111Infotext.generation(request, pipeline.model(), width, height).build();
            return new Image(Images.toBufferedImage(result.image()), infotext, result.warnings());
        }
    }

    @Override
    public DeviceMemory memory() {
        Backend backend = pipeline.backend();
        return new DeviceMemory(backend.name() + " (" + backend.deviceDescription() + ")", backend.deviceBytesInUse(),
                backend.peakDeviceBytes());
    }
}
