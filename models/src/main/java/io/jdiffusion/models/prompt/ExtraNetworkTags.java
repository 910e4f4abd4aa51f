package io.jdiffusion.models.prompt;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A1111's extra-network tags ({@code <lora:name:0.8>}, {@code <hypernet:...>}) taken out of a prompt as
 * {@code modules/extra_networks.py} does: every {@code <TYPE:ARGS>} is removed from the text; LoRA tags
 * ({@code lora}, and LyCORIS's {@code lyco}) become {@link LoraTag}s; other types are listed so the caller can
 * say they were ignored. A LoRA tag's arguments split at ':'; those with one '=' are named:
 * {@code <lora:NAME>} (weight 1), {@code <lora:NAME:W>}, {@code <lora:NAME:TE:UNET>}, {@code te=W}, {@code unet=W}
 * (the UNet weight defaults to the text encoder's, as in A1111's extra_networks_lora). Pure; throws only
 * {@link PromptException}.
 */
public final class ExtraNetworkTags {
    private static final Pattern TAG = Pattern.compile("<(\\w+):([^>]+)>", Pattern.UNICODE_CHARACTER_CLASS);
    /** What Python's float() reads (without its inf/nan spellings, which no weight should be). */
    private static final Pattern FLOAT = Pattern.compile("\\s*[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?\\s*");

    /** The prompt without its tags, the LoRA tags in order, and the tags of other types (as written). */
    public record Parsed(String prompt, List<LoraTag> loras, List<String> ignored) {
        public Parsed {
            loras = List.copyOf(loras);
            ignored = List.copyOf(ignored);
        }
    }

    private ExtraNetworkTags() {
    }

    public static Parsed parse(String prompt) {
        if (prompt == null) {
            throw new PromptException("prompt must not be null (use \"\" for an empty prompt)");
        }
        List<LoraTag> loras = new ArrayList<>();
        List<String> ignored = new ArrayList<>();
        Matcher m = TAG.matcher(prompt);
        StringBuilder rest = new StringBuilder();
        int last = 0;
        while (m.find()) {
            rest.append(prompt, last, m.start());
            last = m.end();
            String type = m.group(1);
            if (type.equals("lora") || type.equals("lyco")) {
                loras.add(loraTag(m.group(), m.group(2)));
            } else {
                ignored.add(m.group());
            }
        }
        rest.append(prompt, last, prompt.length());
        return new Parsed(rest.toString(), loras, ignored);
    }

    private static LoraTag loraTag(String text, String args) {
        List<String> positional = new ArrayList<>();
        Map<String, String> named = new LinkedHashMap<>();
        for (String item : args.split(":", -1)) {
            String[] parts = item.split("=", -1);
            if (parts.length == 2) {
                named.put(parts[0], parts[1]);
            } else {
                positional.add(item);
            }
        }
        String name = positional.isEmpty() ? "" : positional.getFirst().strip();
        if (name.isEmpty()) {
            throw new PromptException("LoRA tag " + text + " names no LoRA");
        }
        double te = positional.size() > 1 ? number(positional.get(1), text) : 1.0;
        te = named.containsKey("te") ? number(named.get("te"), text) : te;
        double unet = positional.size() > 2 ? number(positional.get(2), text) : te;
        unet = named.containsKey("unet") ? number(named.get("unet"), text) : unet;
        return new LoraTag(name, te, unet, text);
    }

    private static double number(String s, String tag) {
        if (!FLOAT.matcher(s).matches()) {
            throw new PromptException("LoRA tag " + tag + ": weight '" + s + "' is not a number");
        }
        return Double.parseDouble(s.strip());
    }
}
