package io.jdiffusion.server;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdiffusion.server.api.A1111Samplers;
import io.jdiffusion.server.api.InvalidRequestException;
import io.jdiffusion.server.api.JsonFields;
import io.jdiffusion.server.jobs.CheckpointFolder;
import io.jdiffusion.server.jobs.CheckpointLoadException;
import io.jdiffusion.server.jobs.GenerationQueue;
import io.jdiffusion.server.jobs.ImageGenerator;
import io.jdiffusion.server.jobs.LoraFolder;
import io.jdiffusion.server.jobs.ProgressState;
import io.vertx.ext.web.RoutingContext;

import java.lang.management.ManagementFactory;
import java.util.Map;

/**
 * A1111's routes that report and steer: progress (with a latent preview), interrupt, skip, the model,
 * sampler and scheduler lists, options, memory.
 */
final class InfoRoutes {
    private final ProgressState progress;
    private final ImageGenerator generator;
    private final GenerationQueue queue;

    InfoRoutes(ProgressState progress, ImageGenerator generator, GenerationQueue queue) {
        this.progress = progress;
        this.generator = generator;
        this.queue = queue;
    }

    void progress(RoutingContext ctx) {
        boolean skipImage = Boolean.parseBoolean(ctx.request().getParam("skip_current_image", "false"));
        ProgressState.Snapshot s = progress.snapshot(!skipImage);
        ObjectNode body = JsonFields.mapper().createObjectNode();
        body.put("progress", s.progress());
        body.put("eta_relative", s.etaRelative());
        body.set("state", JsonFields.mapper().valueToTree(s.state()));
        body.put("current_image", s.currentImage());
        body.put("textinfo", s.textinfo());
        Responses.json(ctx.response(), body);
    }

    void interrupt(RoutingContext ctx) {
        progress.interrupt();
        Responses.json(ctx.response(), Map.of());
    }

    void skip(RoutingContext ctx) {
        progress.skip();
        Responses.json(ctx.response(), Map.of());
    }

    /** A1111's list; filename is the name relative to the models folder (A1111 gives an absolute path). */
    void sdModels(RoutingContext ctx) {
        CheckpointFolder folder = generator.checkpoints();
        ArrayNode list = JsonFields.mapper().createArrayNode();
        for (CheckpointFolder.Checkpoint c : folder.list()) {
            ObjectNode item = list.addObject();
            item.put("title", folder.title(c));
            item.put("model_name", c.modelName());
            item.put("hash", folder.shortHash(c).orElse(null));
            item.put("sha256", folder.sha256(c).orElse(null));
            item.put("filename", c.name());
            item.putNull("config");
        }
        Responses.json(ctx.response(), list);
    }

    void samplers(RoutingContext ctx) {
        ArrayNode list = JsonFields.mapper().createArrayNode();
        for (String name : A1111Samplers.displayNames()) {
            ObjectNode item = list.addObject();
            item.put("name", name);
            ArrayNode aliases = item.putArray("aliases");
            A1111Samplers.aliases(name).forEach(aliases::add);
            item.putObject("options");
        }
        Responses.json(ctx.response(), list);
    }

    void schedulers(RoutingContext ctx) {
        ArrayNode list = JsonFields.mapper().createArrayNode();
        for (String name : A1111Samplers.SCHEDULERS) {
            ObjectNode item = list.addObject();
            item.put("name", name);
            item.put("label", Character.toUpperCase(name.charAt(0)) + name.substring(1));
            item.putNull("aliases");
            item.put("default_rho", name.equals("karras") ? 7.0 : -1.0);
            item.put("need_inner_model", false);
        }
        Responses.json(ctx.response(), list);
    }

    void getOptions(RoutingContext ctx) {
        ObjectNode options = JsonFields.mapper().createObjectNode();
        CheckpointFolder folder = generator.checkpoints();
        CheckpointFolder.Checkpoint loaded = generator.loaded();
        options.put("sd_model_checkpoint", folder.title(loaded));
        options.put("sd_checkpoint_hash", folder.sha256(loaded).orElse(null));
        options.put("sd_vae", "Automatic");
        options.put("samples_format", "png");
        options.put("CLIP_stop_at_last_layers", 1);
        options.put("eta_ddim", 0);
        options.put("eta_ancestral", 1);
        options.put("live_previews_enable", true);
        options.put("show_progress_type", "Approx cheap");
        Responses.json(ctx.response(), options);
    }

    /**
     * Only the checkpoint can be set; other options are accepted and have no effect. The switch waits for the
     * running job and happens on the job thread before the next one; the answer comes once it is loaded, or
     * says why it could not be (the loaded checkpoint then stays).
     */
    void setOptions(RoutingContext ctx) {
        JsonFields f = JsonFields.parse(ctx.body().buffer() == null ? new byte[0] : ctx.body().buffer().getBytes());
        String checkpoint = f.string("sd_model_checkpoint", null);
        if (checkpoint != null) {
            CheckpointFolder.Checkpoint wanted = generator.checkpoints().find(checkpoint).orElseThrow(() ->
                    new InvalidRequestException(404, "sd_model_checkpoint", "checkpoint '" + checkpoint
                            + "' not found; GET /sdapi/v1/sd-models lists them"));
            try {
                queue.runBetweenJobs(() -> generator.load(wanted)).join();
            } catch (java.util.concurrent.CompletionException e) {
                Throwable cause = e.getCause();
                HttpErrors.failure(ctx.response(), cause instanceof CheckpointLoadException ? 500 : 503,
                        cause instanceof CheckpointLoadException ? "CheckpointLoadError" : "ServiceUnavailable",
                        String.valueOf(cause.getMessage()));
                return;
            }
        }
        Responses.json(ctx.response(), null);
    }

    /** As A1111's Lora extension lists them, with paths relative to the LoRA folder. */
    void loras(RoutingContext ctx) {
        ArrayNode list = JsonFields.mapper().createArrayNode();
        for (LoraFolder.Entry lora : generator.loras().list()) {
            ObjectNode item = list.addObject();
            item.put("name", lora.name());
            item.put("alias", lora.name());
            item.put("path", lora.path());
            item.putObject("metadata");
        }
        Responses.json(ctx.response(), list);
    }

    /** The list is read afresh on every call; A1111 clients call this after adding files. */
    void refreshLoras(RoutingContext ctx) {
        Responses.json(ctx.response(), null);
    }

    void memory(RoutingContext ctx) {
        ObjectNode body = JsonFields.mapper().createObjectNode();
        ObjectNode ram = body.putObject("ram");
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            long total = os.getTotalMemorySize();
            long free = os.getFreeMemorySize();
            ram.put("free", free);
            ram.put("used", total - free);
            ram.put("total", total);
        }
        Runtime rt = Runtime.getRuntime();
        ObjectNode heap = body.putObject("jvm_heap");
        heap.put("used", rt.totalMemory() - rt.freeMemory());
        heap.put("max", rt.maxMemory());
        ImageGenerator.DeviceMemory device = generator.memory();
        ObjectNode cuda = body.putObject("cuda");
        cuda.put("device", device.device());
        ObjectNode active = cuda.putObject("active");
        active.put("current", device.bytesInUse());
        active.put("peak", device.peakBytes());
        Responses.json(ctx.response(), body);
    }
}
