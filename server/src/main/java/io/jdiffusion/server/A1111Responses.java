package io.jdiffusion.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdiffusion.models.pipeline.GenerationRequest;
import io.jdiffusion.server.api.ImageJob;
import io.jdiffusion.server.api.JsonFields;
import io.jdiffusion.server.api.ModelFacts;
import io.jdiffusion.server.jobs.JobResult;

import java.time.Instant;
import java.util.Base64;
import java.util.Collections;

/**
 * Bodies of finished jobs: A1111's {@code {images, parameters, info}} with {@code info} the JSON string of
 * its Processed.js(), and OpenAI's {@code {created, data: [{b64_json, revised_prompt}]}}.
 */
final class A1111Responses {
    private A1111Responses() {
    }

    static ObjectNode a1111(ImageJob job, JobResult result, String version) {
        ObjectNode body = JsonFields.mapper().createObjectNode();
        ArrayNode images = body.putArray("images");
        if (job.sendImages()) {
            result.pngs().forEach(png -> images.add(Base64.getEncoder().encodeToString(png)));
        }
        body.set("parameters", job.parameters());
        try {
            body.put("info", JsonFields.mapper().writeValueAsString(info(job, result, result.model(), version)));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        return body;
    }

    static ObjectNode openAi(ImageJob job, JobResult result) {
        ObjectNode body = JsonFields.mapper().createObjectNode();
        body.put("created", Instant.now().getEpochSecond());
        ArrayNode data = body.putArray("data");
        for (byte[] png : result.pngs()) {
            ObjectNode item = data.addObject();
            item.put("b64_json", Base64.getEncoder().encodeToString(png));
            item.put("revised_prompt", job.request().prompt().prompt());
        }
        return body;
    }

    /** A1111's Processed.js() fields. */
    private static ObjectNode info(ImageJob job, JobResult result, ModelFacts model, String version) {
        GenerationRequest r = job.request();
        int count = result.seeds().size();
        ObjectNode info = JsonFields.mapper().createObjectNode();
        info.put("prompt", r.prompt().prompt());
        repeat(info.putArray("all_prompts"), r.prompt().prompt(), count);
        info.put("negative_prompt", r.prompt().negativePrompt());
        repeat(info.putArray("all_negative_prompts"), r.prompt().negativePrompt(), count);
        long first = count > 0 ? result.seeds().getFirst() : r.sampling().seed();
        info.put("seed", first);
        ArrayNode seeds = info.putArray("all_seeds");
        result.seeds().forEach(seeds::add);
        info.put("subseed", first);
        ArrayNode subseeds = info.putArray("all_subseeds");
        result.seeds().forEach(subseeds::add);
        info.put("subseed_strength", 0);
        info.put("width", r.size().width());
        info.put("height", r.size().height());
        info.put("sampler_name", job.sampler());
        info.put("cfg_scale", r.sampling().guidanceScale());
        info.put("steps", r.sampling().steps());
        info.put("batch_size", job.batchSize());
        info.put("restore_faces", false);
        info.putNull("face_restoration_model");
        info.put("sd_model_name", model.name());
        info.put("sd_model_hash", model.hash());
        info.putNull("sd_vae_name");
        info.putNull("sd_vae_hash");
        info.put("seed_resize_from_w", -1);
        info.put("seed_resize_from_h", -1);
        if (r.image() != null) {
            info.put("denoising_strength", r.image().strength());
        } else {
            info.putNull("denoising_strength");
        }
        ObjectNode extra = info.putObject("extra_generation_params");
        extra.put("Schedule type", job.scheduler().equals("karras") || job.sampler().endsWith("Karras") ? "Karras" : "Automatic");
        job.infotext().forEach((key, value) -> extra.set(key, JsonFields.mapper().valueToTree(value)));
        info.put("index_of_first_image", 0);
        ArrayNode infotexts = info.putArray("infotexts");
        result.infotexts().forEach(infotexts::add);
        info.putArray("styles");
        info.put("job_timestamp", result.jobTimestamp());
        info.put("clip_skip", 1);
        info.put("is_using_inpainting_conditioning", r.image() != null && r.image().mask() != null && model.inpaintingUnet());
        info.put("version", version);
        info.put("interrupted", result.interrupted());
        ArrayNode warnings = info.putArray("warnings");
        result.warnings().forEach(warnings::add);
        return info;
    }

    private static void repeat(ArrayNode array, String value, int times) {
        Collections.nCopies(times, value).forEach(array::add);
    }
}
