package io.jdiffusion.server.api;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.pipeline.GenerationRequest;

import java.util.Map;

/**
 * One accepted request, ready for the queue: the pipeline request for its first image, how many images
 * (A1111's {@code batch_size} x {@code n_iter}, with seeds counting up from the first), and what the response
 * echoes. It owns the init image tensor of an img2img request and frees it on {@link #close()}.
 *
 * @param route        which API asked, for the response shape
 * @param request      the first image's request; with {@code randomSeed} its seed is replaced when the job runs
 * @param batchSize    images per iteration (A1111's batch_size)
 * @param iterations   iterations (A1111's n_iter); an interrupt skips the ones not started
 * @param randomSeed   the client asked for a random seed (-1)
 * @param sampler      what the request's sampler and schedule are called in A1111 ("DPM++ 2M Karras")
 * @param scheduler    the A1111 scheduler name as asked ("automatic" when none)
 * @param parameters   the request's fields with defaults filled in, answered as A1111's {@code parameters}
 * @param sendImages   A1111's send_images: false answers without images
 * @param infotext     pairs the request adds to each image's infotext beyond the request's own (A1111's
 *                     extra_generation_params, e.g. "Mask blur"), in order
 * @param checkpoint   override_settings.sd_model_checkpoint as the client named it; null: the loaded one
 * @param restoreCheckpoint A1111's override_settings_restore_afterwards: load the previous checkpoint again
 *                     after the job
 * @param warnings     what the request mapping changed and the client should hear (e.g. a blank mask's
 *                     "only masked" run as img2img), answered with the pipeline's warnings
 */
public record ImageJob(Route route, GenerationRequest request, int batchSize, int iterations, boolean randomSeed,
                       String sampler, String scheduler, ObjectNode parameters, boolean sendImages,
                       Map<String, Object> infotext, String checkpoint, boolean restoreCheckpoint,
                       java.util.List<String> warnings)
        implements AutoCloseable {

    /** The API a job came from. */
    public enum Route { TXT2IMG, IMG2IMG, OPENAI }

    public ImageJob {
        infotext = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(infotext));
        warnings = java.util.List.copyOf(warnings);
    }

    public int imageCount() {
        return batchSize * iterations;
    }

    @Override
    public void close() {
        if (request.image() != null) {
            request.image().initImage().close();
            Tensor mask = request.image().mask();
            if (mask != null) {
                mask.close();
            }
        }
    }
}
