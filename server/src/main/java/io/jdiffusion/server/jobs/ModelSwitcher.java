package io.jdiffusion.server.jobs;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.models.pipeline.GenerationRequest;
import io.jdiffusion.models.pipeline.MemoryPolicy;
import io.jdiffusion.models.pipeline.ProgressListener;
import io.jdiffusion.models.pipeline.StableDiffusionPipeline;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.server.api.ModelFacts;

import java.util.Map;
import java.util.function.Function;

/**
 * The server's {@link ImageGenerator}: one checkpoint of the {@link CheckpointFolder} loaded at a time on one
 * backend, switched on request. A switch runs on the job thread between jobs (the queue sees to that): the new
 * checkpoint is read and checked first, and only then does the old one's pipeline (its compiled networks and
 * device memory) and weights go, so a checkpoint that fails to load leaves the loaded one serving.
 */
public final class ModelSwitcher implements ImageGenerator, AutoCloseable {
    private final CheckpointFolder checkpoints;
    private final Function<CheckpointFolder.Checkpoint, StableDiffusion> loader;
    private final Backend backend;
    private final Precision precision;
    private final Function<StableDiffusion, MemoryPolicy> memoryPolicy;
    private final LoraFolder loras;
    private volatile Loaded loaded;

    /** One loaded checkpoint: its weights, its pipeline and the generator over them. */
    private record Loaded(CheckpointFolder.Checkpoint checkpoint, StableDiffusion model, StableDiffusionPipeline pipeline,
                          PipelineGenerator generator) {
        void close() {
            pipeline.close();
            model.close();
        }
    }

    /**
     * Loads {@code checkpoints.first()} now.
     *
     * @param loader       reads a checkpoint's weights (with the options the server was started with)
     * @param memoryPolicy the memory policy of each checkpoint's pipeline, chosen once it is loaded (and the one
     *                     before it closed): warm, so that requests find their networks compiled, where memory allows
     */
    public ModelSwitcher(CheckpointFolder checkpoints, Function<CheckpointFolder.Checkpoint, StableDiffusion> loader,
                         Backend backend, Precision precision, Function<StableDiffusion, MemoryPolicy> memoryPolicy,
                         LoraFolder loras) {
        this.checkpoints = checkpoints;
        this.loader = loader;
        this.backend = backend;
        this.precision = precision;
        this.memoryPolicy = memoryPolicy;
        this.loras = loras;
        this.loaded = open(checkpoints.first(), loader.apply(checkpoints.first()));
    }

    @Override
    public CheckpointFolder checkpoints() {
        return checkpoints;
    }

    @Override
    public CheckpointFolder.Checkpoint loaded() {
        return loaded.checkpoint();
    }

    /**
     * Makes {@code wanted} the loaded checkpoint; nothing happens when it is already. Call it from the job
     * thread only.
     *
     * @throws CheckpointLoadException when it cannot be loaded; the loaded checkpoint stays
     */
    @Override
    public void load(CheckpointFolder.Checkpoint wanted) {
        Loaded current = loaded;
        if (current.checkpoint().equals(wanted)) {
            return;
        }
        StableDiffusion model;
        try {
            model = loader.apply(wanted);
        } catch (RuntimeException e) {
            throw new CheckpointLoadException("cannot load checkpoint '" + wanted.name() + "': "
                    + checkpoints.hideLocation(e.getMessage()) + "; '" + current.checkpoint().name() + "' stays loaded", e);
        }
        // Only one checkpoint keeps compiled networks and device memory: the old one goes before the new pipeline.
        current.close();
        try {
            loaded = open(wanted, model);
        } catch (RuntimeException e) {
            model.close();
            // The old one loaded before: load it again, so that the server keeps serving what it served.
            loaded = open(current.checkpoint(), loader.apply(current.checkpoint()));
            throw new CheckpointLoadException("cannot set up checkpoint '" + wanted.name() + "': "
                    + checkpoints.hideLocation(e.getMessage()) + "; '" + current.checkpoint().name() + "' stays loaded", e);
        }
    }

    private Loaded open(CheckpointFolder.Checkpoint checkpoint, StableDiffusion model) {
        StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model, backend, precision, memoryPolicy.apply(model));
        return new Loaded(checkpoint, model, pipeline, new PipelineGenerator(pipeline, loras));
    }

    @Override
    public ModelFacts model() {
        return loaded.generator().model();
    }

    @Override
    public LoraFolder loras() {
        return loras;
    }

    @Override
    public LatentPreview latentPreview() {
        return loaded.generator().latentPreview();
    }

    @Override
    public Image generate(GenerationRequest request, Map<String, Object> infotext, ProgressListener listener) {
        return loaded.generator().generate(request, infotext, listener);
    }

    @Override
    public DeviceMemory memory() {
        return loaded.generator().memory();
    }

    @Override
    public void close() {
        loaded.close();
    }
}
