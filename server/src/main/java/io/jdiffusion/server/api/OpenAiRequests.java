package io.jdiffusion.server.api;

import io.jdiffusion.models.scheduler.Sampler;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdiffusion.models.pipeline.GenerationRequest;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * OpenAI's {@code POST /v1/images/generations} body to an {@link ImageJob}: prompt, n, size ("WxH" or
 * "auto"), response_format (only b64_json: the server keeps no files to link to). Other fields (model,
 * quality, style, user) are ignored. Errors are 400 as OpenAI answers them, naming the parameter. The
 * sampler, steps and guidance are the pipeline's defaults; the seed is random.
 */
public final class OpenAiRequests {
    private static final Pattern SIZE = Pattern.compile("(\\d{1,5})x(\\d{1,5})");

    private OpenAiRequests() {
    }

    public static ImageJob generations(byte[] body, ModelFacts model, RequestLimits limits) {
        try {
            return parse(body, model, limits);
        } catch (InvalidRequestException e) {
            throw e.status() == 422 ? new InvalidRequestException(400, e.field(), e.reason()) : e;
        }
    }

    private static ImageJob parse(byte[] body, ModelFacts model, RequestLimits limits) {
        JsonFields f = JsonFields.parse(body);
        String prompt = f.string("prompt", null);
        if (prompt == null) {
            throw new InvalidRequestException("prompt", "is required");
        }
        GenerationRequests.checkPrompt("prompt", prompt);
        int n = f.integer("n", 1);
        if (n < 1 || n > limits.maxImages()) {
            throw new InvalidRequestException("n", "must be in [1, " + limits.maxImages() + "], got " + n);
        }
        String format = f.string("response_format", "b64_json");
        if (!format.equals("b64_json")) {
            throw new InvalidRequestException("response_format", "only b64_json is supported, got '" + format + "'");
        }
        String size = f.string("size", "auto").strip().toLowerCase(Locale.ROOT);
        int width = model.defaultWidth();
        int height = model.defaultHeight();
        if (!size.equals("auto")) {
            Matcher m = SIZE.matcher(size);
            if (!m.matches()) {
                throw new InvalidRequestException("size", "expected WIDTHxHEIGHT (e.g. 512x512) or auto, got '" + size + "'");
            }
            width = Integer.parseInt(m.group(1));
            height = Integer.parseInt(m.group(2));
        }
        if (width < model.sizeMultiple() || height < model.sizeMultiple()
                || width % model.sizeMultiple() != 0 || height % model.sizeMultiple() != 0) {
            throw new InvalidRequestException("size", "width and height must be positive multiples of " + model.sizeMultiple()
                    + ", got " + size);
        }
        if ((long) width * height > limits.maxPixels()) {
            throw new InvalidRequestException("size", size + " exceeds the limit of " + limits.maxPixels() + " pixels");
        }
        Sampler.Choice sampler = Sampler.parse(model.defaultSampler());
        GenerationRequest request = GenerationRequests.of(prompt, "", 0, sampler, GenerationRequest.DEFAULT_STEPS,
                GenerationRequest.DEFAULT_GUIDANCE, 0f, width, height, null, 0.8f, null,
                GenerationRequest.InpaintArea.WHOLE_PICTURE);
        ObjectNode parameters = f.node().deepCopy();
        return new ImageJob(ImageJob.Route.OPENAI, request, 1, n, true, sampler.a1111Label(), "automatic", parameters, true, java.util.Map.of(), null, true,
                java.util.List.of());
    }
}
