package io.jdiffusion.models.testsupport;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.models.pipeline.StableDiffusionPipeline;
import io.jdiffusion.models.sd.StableDiffusion;

import java.nio.file.Path;

/** A model folder loaded with an F32 pipeline on the CPU backend: opened together, closed together. */
public record PipelineFixture(StableDiffusion model, Backend cpu, StableDiffusionPipeline pipeline) implements AutoCloseable {

    /** Loads the diffusers-layout model in {@code modelDir}, e.g. a bundled tiny model. */
    public static PipelineFixture open(Path modelDir) {
        StableDiffusion model = StableDiffusion.load(modelDir, null);
        Backend cpu = Backends.create("cpu");
        return new PipelineFixture(model, cpu, new StableDiffusionPipeline(model, cpu, Precision.F32));
    }

    @Override
    public void close() {
        pipeline.close();
        cpu.close();
        model.close();
    }
}
