package io.jdiffusion.server.api;

import io.jdiffusion.models.scheduler.Sampler;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.pipeline.GenerationRequest;
import io.jdiffusion.models.pipeline.BufferedImages;
import io.jdiffusion.models.pipeline.Images;

import java.awt.image.BufferedImage;
import java.util.List;
import java.util.Map;

/**
 * AUTOMATIC1111's {@code /sdapi/v1/txt2img} and {@code /img2img} bodies to {@link ImageJob}s: a pure function
 * of the body's bytes, the model's facts and the limits. Fields and defaults are those of A1111's
 * StableDiffusionProcessingTxt2Img/Img2Img API models; fields jdiffusion does not implement (hires fix,
 * face restoration, scripts) are accepted and ignored as A1111 ignores unknown ones, except where ignoring
 * would silently give a different image than asked (an inpainting fill or area jdiffusion does not have).
 * Width and height left out take the model's own size (A1111's 512 fits SD 1.x only).
 */
public final class A1111Requests {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    /** Fields echoed in {@code parameters}, with A1111's defaults (width/height: the model's). */
    private static final Map<String, Object> COMMON_DEFAULTS = orderedMap(
            "prompt", "", "negative_prompt", "", "styles", null, "seed", -1, "subseed", -1, "subseed_strength", 0,
            "seed_resize_from_h", -1, "seed_resize_from_w", -1, "sampler_name", null, "scheduler", null,
            "batch_size", 1, "n_iter", 1, "steps", 50, "cfg_scale", 7.0, "width", null, "height", null,
            "restore_faces", null, "tiling", null, "do_not_save_samples", false, "do_not_save_grid", false, "eta", null,
            "denoising_strength", null, "s_min_uncond", null, "s_churn", null, "s_tmax", null, "s_tmin", null,
            "s_noise", null, "override_settings", null, "override_settings_restore_afterwards", true,
            "refiner_checkpoint", null, "refiner_switch_at", null, "disable_extra_networks", false, "comments", null,
            "sampler_index", "Euler", "script_name", null, "script_args", List.of(), "send_images", true,
            "save_images", false, "alwayson_scripts", Map.of(), "force_task_id", null, "infotext", null);
    private static final Map<String, Object> TXT2IMG_DEFAULTS = orderedMap(
            "enable_hr", false, "firstphase_width", 0, "firstphase_height", 0, "hr_scale", 2.0, "hr_upscaler", null,
            "hr_second_pass_steps", 0, "hr_resize_x", 0, "hr_resize_y", 0, "hr_checkpoint_name", null,
            "hr_sampler_name", null, "hr_scheduler", null, "hr_prompt", "", "hr_negative_prompt", "");
    private static final Map<String, Object> IMG2IMG_DEFAULTS = orderedMap(
            "init_images", null, "resize_mode", 0, "image_cfg_scale", null, "mask", null, "mask_blur_x", 4,
            "mask_blur_y", 4, "mask_blur", null, "inpainting_fill", 0, "inpaint_full_res", true,
            "inpaint_full_res_padding", 0, "inpainting_mask_invert", 0, "initial_noise_multiplier", null,
            "latent_mask", null, "include_init_images", false);

    private A1111Requests() {
    }

    public static ImageJob txt2img(byte[] body, ModelFacts model, RequestLimits limits) {
        JsonFields f = JsonFields.parse(body);
        Common c = common(f, model, limits);
        GenerationRequest request = GenerationRequests.of(c.prompt, c.negativePrompt, c.seed, c.sampler, c.steps,
                c.cfgScale, c.eta, c.width, c.height, null, 0.8f, null, GenerationRequest.InpaintArea.WHOLE_PICTURE);
        ObjectNode parameters = parameters(f, TXT2IMG_DEFAULTS, c);
        return new ImageJob(ImageJob.Route.TXT2IMG, request, c.batchSize, c.iterations, c.seed == -1,
                c.sampler.a1111Label(), c.scheduler, parameters, c.sendImages, Map.of(), c.overrides.checkpoint(),
                c.overrides.restoreAfterwards(), List.of());
    }

    public static ImageJob img2img(byte[] body, ModelFacts model, RequestLimits limits) {
        JsonFields f = JsonFields.parse(body);
        Common c = common(f, model, limits);
        float strength = f.number("denoising_strength", 0.75f);
        if (!(strength > 0 && strength <= 1)) {
            throw new InvalidRequestException("denoising_strength", "must be in (0, 1], got " + strength);
        }
        int resizeMode = f.integer("resize_mode", 0);
        if (resizeMode != 0) {
            throw new InvalidRequestException("resize_mode", "only 0 (just resize) is implemented, got " + resizeMode);
        }
        InpaintingFields.Options inpainting = InpaintingFields.options(f);
        List<String> images = f.strings("init_images");
        if (images.isEmpty()) {
            throw new InvalidRequestException("init_images", "img2img needs one base64 image in init_images");
        }
        // A1111 runs the batch over its init images in turn; jdiffusion takes the first for every image.
        BufferedImage init = Base64Images.decode("init_images[0]", images.getFirst(), limits).toBufferedImage();
        // Only masked (A1111's default for a mask): the image and mask keep their size, and the crop around the
        // mask is brought to width x height; the result is the init image with the crop pasted back.
        GenerationRequest.InpaintArea area = inpainting.area();
        int imageW = area.onlyMasked() ? init.getWidth() : c.width;
        int imageH = area.onlyMasked() ? init.getHeight() : c.height;
        List<String> warnings = List.of();
        InpaintingFields.Mask mask = null;
        Tensor initTensor = null;
        GenerationRequest request;
        try {
            mask = InpaintingFields.decode(inpainting, limits, imageW, imageH);
            if (area.onlyMasked() && Images.isBlankMask(mask.tensor())) {
                // As A1111: a blank mask leaves nothing to crop around, so the image runs as plain img2img.
                mask.tensor().close();
                mask = null;
                area = GenerationRequest.InpaintArea.WHOLE_PICTURE;
                imageW = c.width;
                imageH = c.height;
                warnings = List.of("Unable to perform \"Inpaint Only mask\" because mask is blank, switch to img2img mode.");
            }
            initTensor = BufferedImages.fromBufferedImage(init, imageW, imageH);
            request = GenerationRequests.of(c.prompt, c.negativePrompt, c.seed, c.sampler, c.steps, c.cfgScale, c.eta,
                    c.width, c.height, initTensor, strength, mask == null ? null : mask.tensor(), area);
        } catch (RuntimeException e) {
            if (initTensor != null) {
                initTensor.close();
            }
            if (mask != null) {
                mask.tensor().close();
            }
            throw e;
        }
        ObjectNode parameters = parameters(f, IMG2IMG_DEFAULTS, c);
        parameters.put("denoising_strength", strength);
        if (mask != null) {
            // What ran: the fill jdiffusion has, whatever was left out, and the area.
            parameters.put("inpainting_fill", InpaintingFields.FILL_ORIGINAL);
            parameters.put("inpaint_full_res", area.onlyMasked());
            parameters.put("inpaint_full_res_padding", area.padding());
        }
        // As A1111 without include_init_images: the images are not sent back.
        parameters.putNull("init_images");
        parameters.putNull("mask");
        return new ImageJob(ImageJob.Route.IMG2IMG, request, c.batchSize, c.iterations, c.seed == -1,
                c.sampler.a1111Label(), c.scheduler, parameters, c.sendImages, mask == null ? Map.of() : mask.infotext(),
                c.overrides.checkpoint(), c.overrides.restoreAfterwards(), warnings);
    }

    /** The fields txt2img and img2img share, validated. */
    private record Common(String prompt, String negativePrompt, long seed, Sampler.Choice sampler,
                          String scheduler, int steps, float cfgScale, float eta, int width, int height,
                          int batchSize, int iterations, boolean sendImages, OverrideSettings overrides) {
    }

    private static Common common(JsonFields f, ModelFacts model, RequestLimits limits) {
        String prompt = GenerationRequests.checkPrompt("prompt", f.string("prompt", ""));
        String negative = GenerationRequests.checkPrompt("negative_prompt", f.string("negative_prompt", ""));
        long seed = f.longInteger("seed", -1);
        if (seed < -1) {
            throw new InvalidRequestException("seed", "must be -1 (random) or at least 0, got " + seed);
        }
        String samplerField = f.has("sampler_name") ? "sampler_name" : "sampler_index";
        String samplerName = f.string(samplerField, "Euler");
        String scheduler = f.string("scheduler", "automatic");
        Sampler.Choice sampler = A1111Samplers.choose(samplerField, samplerName, "scheduler", scheduler);
        int steps = f.integer("steps", 50);
        if (steps < 1 || steps > limits.maxSteps()) {
            throw new InvalidRequestException("steps", "must be in [1, " + limits.maxSteps() + "], got " + steps);
        }
        float cfg = f.number("cfg_scale", 7.0f);
        OverrideSettings overrides = OverrideSettings.read(f);
        float eta = f.number("eta", overrides.etaDdim());
        if (eta < 0) {
            throw new InvalidRequestException("eta", "must be 0 or more, got " + eta);
        }
        int width = f.integer("width", model.defaultWidth());
        int height = f.integer("height", model.defaultHeight());
        checkSize("width", width, model);
        checkSize("height", height, model);
        if ((long) width * height > limits.maxPixels()) {
            throw new InvalidRequestException("width", width + "x" + height + " exceeds the limit of " + limits.maxPixels() + " pixels");
        }
        int batch = f.integer("batch_size", 1);
        int iterations = f.integer("n_iter", 1);
        if (batch < 1) {
            throw new InvalidRequestException("batch_size", "must be at least 1, got " + batch);
        }
        if (iterations < 1) {
            throw new InvalidRequestException("n_iter", "must be at least 1, got " + iterations);
        }
        if ((long) batch * iterations > limits.maxImages()) {
            throw new InvalidRequestException("batch_size", "batch_size x n_iter = " + (long) batch * iterations
                    + " exceeds the limit of " + limits.maxImages() + " images per request");
        }
        boolean send = f.bool("send_images", true);
        // Typed fields jdiffusion ignores are still type-checked, as pydantic checks them.
        f.bool("restore_faces", false);
        f.bool("tiling", false);
        f.bool("enable_hr", false);
        f.integer("subseed", -1);
        f.number("subseed_strength", 0);
        return new Common(prompt, negative, seed, sampler, scheduler.strip().toLowerCase(java.util.Locale.ROOT), steps,
                cfg, eta, width, height, batch, iterations, send, overrides);
    }

    private static void checkSize(String field, int value, ModelFacts model) {
        if (value < model.sizeMultiple() || value % model.sizeMultiple() != 0) {
            throw new InvalidRequestException(field, "must be a positive multiple of " + model.sizeMultiple() + ", got " + value);
        }
    }

    /** A1111's {@code vars(request)}: every field of the API model, defaults filled in, unknown fields dropped. */
    private static ObjectNode parameters(JsonFields f, Map<String, Object> routeDefaults, Common c) {
        ObjectNode out = NODES.objectNode();
        for (Map<String, Object> defaults : List.of(COMMON_DEFAULTS, routeDefaults)) {
            for (Map.Entry<String, Object> e : defaults.entrySet()) {
                JsonNode given = f.node().get(e.getKey());
                out.set(e.getKey(), given != null ? given : JsonFields.mapper().valueToTree(e.getValue()));
            }
        }
        out.put("width", c.width);
        out.put("height", c.height);
        return out;
    }

    private static Map<String, Object> orderedMap(Object... keysAndValues) {
        var map = new java.util.LinkedHashMap<String, Object>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            map.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return java.util.Collections.unmodifiableMap(map);
    }
}
