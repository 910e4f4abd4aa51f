package io.jdiffusion.models.pipeline;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jdiffusion.models.lora.LoraFile;
import io.jdiffusion.models.lora.LoraRequest;
import io.jdiffusion.models.lora.LoraUse;
import io.jdiffusion.models.prompt.ExtraNetworkTags;
import io.jdiffusion.models.scheduler.Sampler;
import io.jdiffusion.models.sd.ModelIdentity;
import io.jdiffusion.models.sd.StableDiffusion;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The "infotext" of AUTOMATIC1111's web UI: the text of a PNG's {@code parameters} chunk that A1111's PNG
 * Info, Civitai and most image browsers read back. Its layout is the prompt, an optional line
 * {@code Negative prompt: ...}, and one last line of {@code Key: value} pairs joined by ", ", e.g.
 * <pre>
 * a cat
 * Negative prompt: blurry
 * Steps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 1, Size: 512x512, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly
 * </pre>
 * Values are written as A1111's {@code infotext_utils.quote} writes them: as a JSON string when they hold a
 * comma, a colon or a newline, else as they are. Pairs keep the order they were put in (A1111's order for
 * the standard ones: see {@link #generation}); extensions add their own with {@link Builder#put}.
 */
public final class A1111Infotext {
    /** What A1111's {@code re_param} accepts as a key: a word character, then word characters, spaces, '-' or '/'. */
    private static final Pattern KEY = Pattern.compile("\\w[\\w \\-/]+", Pattern.UNICODE_CHARACTER_CLASS);
    private static final String NEGATIVE = "Negative prompt:";
    private static final ObjectMapper JSON = new ObjectMapper();

    private A1111Infotext() {
    }

    public static Builder builder(String prompt, String negativePrompt) {
        return new Builder(prompt == null ? "" : prompt, negativePrompt == null ? "" : negativePrompt);
    }

    /**
     * The standard pairs of one generated image, in A1111's order: Steps, Sampler (with its schedule, e.g.
     * "DPM++ 2M Karras", the form every A1111 version reads), CFG scale, Seed, Size, Model hash, Model and,
     * for image-to-image, Denoising strength, for "Only masked" inpainting Inpaint area and Masked area padding,
     * and Lora hashes when LoRAs are used (see {@link #loraHashes}).
     *
     * @param width  the image's width in pixels (the request's 0 resolved to the model's default)
     * @param height the image's height in pixels
     */
    public static Builder generation(GenerationRequest request, StableDiffusion model, int width, int height) {
        return generation(request, model.identity(), model.defaultSampler(), width, height);
    }

    static Builder generation(GenerationRequest request, ModelIdentity identity, Sampler defaultSampler, int width,
                              int height) {
        GenerationRequest.SamplingOptions sampling = request.sampling();
        Sampler sampler = sampling.sampler() != null ? sampling.sampler() : defaultSampler;
        GenerationRequest.PromptInput prompt = request.prompt();
        boolean onlyMasked = request.image() != null && request.image().area().onlyMasked();
        return builder(promptWithLoraTags(prompt), prompt.negativePrompt())
                .put("Steps", sampling.steps())
                .put("Sampler", sampler.a1111Label(sampling.schedule()))
                .put("CFG scale", sampling.guidanceScale())
                .put("Seed", sampling.seed())
                .put("Size", width + "x" + height)
                .put("Model hash", identity.autoV2Hash().orElse(null))
                .put("Model", identity.name())
                .put("Denoising strength", request.image() != null ? request.image().strength() : null)
                .put("Inpaint area", onlyMasked ? "Only masked" : null)
                .put("Masked area padding", onlyMasked ? request.image().area().padding() : null)
                .put("Lora hashes", loraHashes(prompt));
    }

    /**
     * The prompt as A1111 would have been given it: its own {@code <lora:...>} tags stay where they are, and
     * each LoRA given as a file (the CLI's {@code --lora}) is appended as a tag, so that PNG Info applies it.
     */
    static String promptWithLoraTags(GenerationRequest.PromptInput prompt) {
        StringBuilder text = new StringBuilder(prompt.prompt());
        for (LoraUse use : prompt.loras()) {
            text.append(text.isEmpty() ? "" : " ").append("<lora:").append(LoraFile.nameOf(use.file())).append(':')
                    .append(format(use.textEncoderWeight()));
            if (use.unetWeight() != use.textEncoderWeight()) {
                text.append(':').append(format(use.unetWeight()));
            }
            text.append('>');
        }
        return text.toString();
    }

    /**
     * A1111's {@code Lora hashes}: "NAME: HASH" for each LoRA used (its tag name, or the file name for
     * {@code --lora}, with ':' and ',' removed as A1111 removes them), HASH the file's 12-digit short hash;
     * null when the request uses none.
     */
    static String loraHashes(GenerationRequest.PromptInput prompt) {
        LoraRequest loras = LoraRequest.resolve(prompt.prompt(), prompt.loras(), prompt.loraDir());
        Map<String, String> hashes = new LinkedHashMap<>();
        for (LoraUse use : loras.loras()) {
            String name = use.tag() != null ? ExtraNetworkTags.parse(use.tag()).loras().getFirst().name()
                    : LoraFile.nameOf(use.file());
            hashes.putIfAbsent(name.replace(":", "").replace(",", ""), LoraFile.shortHash(use.file()));
        }
        return hashes.isEmpty() ? null : hashes.entrySet().stream().map(e -> e.getKey() + ": " + e.getValue())
                .collect(Collectors.joining(", "));
    }

    /** Collects the pairs of one infotext. */
    public static final class Builder {
        private final String prompt;
        private final String negativePrompt;
        private final Map<String, String> pairs = new LinkedHashMap<>();

        private Builder(String prompt, String negativePrompt) {
            this.prompt = prompt;
            this.negativePrompt = negativePrompt;
        }

        /**
         * Adds {@code key: value} (a key put twice keeps its first place and its last value); a null value
         * adds nothing, as A1111 leaves out None. Floats are written without a trailing ".0" when whole.
         *
         * @throws IllegalArgumentException for a key A1111 cannot read back
         */
        public Builder put(String key, Object value) {
            if (!KEY.matcher(key).matches()) {
                throw new IllegalArgumentException("infotext key '" + key + "' is not one A1111 reads back "
                        + "(a word character, then word characters, spaces, '-' or '/')");
            }
            if (value != null) {
                pairs.put(key, format(value));
            }
            return this;
        }

        /** The infotext, stripped of surrounding white space as A1111 strips it. */
        public String build() {
            String params = pairs.entrySet().stream().map(e -> e.getKey() + ": " + quote(e.getValue()))
                    .collect(Collectors.joining(", "));
            String negative = negativePrompt.isEmpty() ? "" : "\n" + NEGATIVE + " " + negativePrompt;
            return (guardPrompt(prompt) + negative + "\n" + params).strip();
        }
    }

    /** A1111's {@code quote}: a JSON string (non-ASCII kept) when the value holds ',', ':' or a newline. */
    static String quote(String value) {
        if (value.indexOf(',') < 0 && value.indexOf(':') < 0 && value.indexOf('\n') < 0) {
            return value;
        }
        try {
            return JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a string always serializes", e);
        }
    }

    /**
     * A1111's parser takes the first line that starts with "Negative prompt:" (after trimming) as the start
     * of the negative prompt, so a prompt holding such a line would lose its tail to it. Such a line is
     * written with a lower-case "negative prompt:" instead: the CLIP tokenizers lower-case every prompt, so
     * the text the model read is the one written, and the parser no longer splits there.
     */
    static String guardPrompt(String prompt) {
        if (!prompt.contains(NEGATIVE)) {
            return prompt;
        }
        StringBuilder out = new StringBuilder(prompt.length());
        for (String line : prompt.split("\n", -1)) {
            if (line.strip().startsWith(NEGATIVE)) {
                int at = line.indexOf(NEGATIVE);
                line = line.substring(0, at) + "n" + line.substring(at + 1);
            }
            out.append(line).append('\n');
        }
        return out.substring(0, out.length() - 1);
    }

    static String format(Object value) {
        if (value instanceof Float f) {
            return f == Math.rint(f) && Math.abs(f) < 1e9 ? String.valueOf(f.longValue()) : String.valueOf(f);
        }
        if (value instanceof Double d) {
            return d == Math.rint(d) && Math.abs(d) < 1e15 ? String.valueOf(d.longValue()) : String.valueOf(d);
        }
        return String.valueOf(value);
    }
}
