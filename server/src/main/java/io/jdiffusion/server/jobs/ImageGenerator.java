package io.jdiffusion.server.jobs;

import io.jdiffusion.models.pipeline.GenerationRequest;
import io.jdiffusion.models.pipeline.ProgressListener;
import io.jdiffusion.server.api.ModelFacts;

import java.awt.image.BufferedImage;
import java.util.List;
import java.util.Map;

/**
 * What the job queue runs requests on: one loaded checkpoint on one backend, of those the server may load.
 * Called from one thread at a time (the queue's worker), so an implementation may keep compiled networks
 * between calls.
 */
public interface ImageGenerator {
    /** One image, its A1111 infotext (the PNG's parameters) and what the pipeline warned about. */
    record Image(BufferedImage pixels, String infotext, List<String> warnings) {
    }

    /** Device memory as the backend counts it, for /sdapi/v1/memory. */
    record DeviceMemory(String device, long bytesInUse, long peakBytes) {
    }

    /** The loaded checkpoint's facts. */
    ModelFacts model();

    /** The checkpoints the server may load. */
    CheckpointFolder checkpoints();

    /** The loaded one. */
    CheckpointFolder.Checkpoint loaded();

    /**
     * Makes {@code checkpoint} the loaded one (nothing to do when it is); from the job thread only.
     *
     * @throws CheckpointLoadException when it cannot be loaded; the loaded checkpoint stays
     */
    void load(CheckpointFolder.Checkpoint checkpoint);

    /** The LoRAs prompts may name. */
    LoraFolder loras();

    /** How /progress previews this model's latents. */
    LatentPreview latentPreview();

    /**
     * One image; {@code infotext} holds the pairs the request adds to the image's infotext beyond those
     * the pipeline request gives (A1111's extra_generation_params, e.g. "Mask blur"), in order.
     */
    Image generate(GenerationRequest request, Map<String, Object> infotext, ProgressListener listener);

    DeviceMemory memory();
}
