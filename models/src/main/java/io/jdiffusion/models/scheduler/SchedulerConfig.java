package io.jdiffusion.models.scheduler;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A diffusers {@code scheduler_config.json} read the way {@code X.from_config(config)} reads it: a key that
 * is present (and not null) wins, any other key takes the default of the scheduler class being built. So
 * SD 1.5's PNDM file gives Euler its own "linspace" spacing, since the file has no {@code timestep_spacing},
 * but carries {@code clip_sample: false} and {@code set_alpha_to_one: false} into DDIM. Keys that a saved
 * config lists under {@code _use_default_values} were filled in by defaults, so they count as absent too.
 */
final class SchedulerConfig {
    private final JsonNode json;
    private final Set<String> defaulted = new HashSet<>();

    SchedulerConfig(JsonNode json) {
        if (json == null || !json.isObject()) {
            throw new IllegalArgumentException("scheduler config must be a JSON object, got " + json);
        }
        this.json = json;
        JsonNode useDefaults = json.get("_use_default_values");
        if (useDefaults != null && useDefaults.isArray()) {
            useDefaults.forEach(k -> defaulted.add(k.asText()));
        }
    }

    private JsonNode get(String key) {
        JsonNode node = json.get(key);
        return node == null || node.isNull() || defaulted.contains(key) ? null : node;
    }

    boolean has(String key) {
        return get(key) != null;
    }

    int integer(String key, int fallback) {
        JsonNode node = get(key);
        if (node == null) {
            return fallback;
        }
        if (!node.canConvertToExactIntegral() || !node.canConvertToInt()) {
            throw new IllegalArgumentException("scheduler config '" + key + "' must be an integer, got " + node);
        }
        return node.asInt();
    }

    /** A number; the strict JSON of diffusers writes non-finite values as strings ("-Infinity"). */
    double number(String key, double fallback) {
        JsonNode node = get(key);
        if (node == null) {
            return fallback;
        }
        if (node.isNumber()) {
            return node.asDouble();
        }
        if (node.isTextual()) {
            switch (node.asText()) {
                case "Infinity", "inf" -> {
                    return Double.POSITIVE_INFINITY;
                }
                case "-Infinity", "-inf" -> {
                    return Double.NEGATIVE_INFINITY;
                }
                case "NaN" -> {
                    return Double.NaN;
                }
                default -> {
                }
            }
        }
        throw new IllegalArgumentException("scheduler config '" + key + "' must be a number, got " + node);
    }

    /** A number that may be absent (diffusers' {@code None}): null then. */
    Double optionalNumber(String key) {
        return has(key) ? number(key, Double.NaN) : null;
    }

    boolean flag(String key, boolean fallback) {
        JsonNode node = get(key);
        if (node == null) {
            return fallback;
        }
        if (!node.isBoolean()) {
            throw new IllegalArgumentException("scheduler config '" + key + "' must be true or false, got " + node);
        }
        return node.asBoolean();
    }

    String text(String key, String fallback) {
        JsonNode node = get(key);
        if (node == null) {
            return fallback;
        }
        if (!node.isTextual()) {
            throw new IllegalArgumentException("scheduler config '" + key + "' must be a string, got " + node);
        }
        return node.asText();
    }

    /** A string that must be one of {@code allowed}. */
    String choice(String key, String fallback, List<String> allowed) {
        String value = text(key, fallback);
        if (!allowed.contains(value)) {
            throw new IllegalArgumentException("scheduler config '" + key + "' is '" + value + "'; supported: " + allowed);
        }
        return value;
    }

    /** Rejects an option this port does not implement when the config turns it on. */
    void requireOff(String key, String scheduler) {
        if (flag(key, false)) {
            throw new IllegalArgumentException("scheduler config '" + key + "' = true is not supported by " + scheduler);
        }
    }

    /** A list of integers (UniPC's {@code disable_corrector}); empty when absent. */
    List<Integer> integerList(String key) {
        JsonNode node = get(key);
        if (node == null) {
            return List.of();
        }
        if (!node.isArray()) {
            throw new IllegalArgumentException("scheduler config '" + key + "' must be a list of integers, got " + node);
        }
        List<Integer> out = new ArrayList<>();
        for (JsonNode item : node) {
            if (!item.canConvertToExactIntegral() || !item.canConvertToInt()) {
                throw new IllegalArgumentException("scheduler config '" + key + "' holds a non-integer: " + item);
            }
            out.add(item.asInt());
        }
        return out;
    }

    /** {@code trained_betas}, or null when absent. */
    float[] floatArray(String key) {
        JsonNode node = get(key);
        if (node == null) {
            return null;
        }
        if (!node.isArray()) {
            throw new IllegalArgumentException("scheduler config '" + key + "' must be an array of numbers, got " + node);
        }
        float[] out = new float[node.size()];
        for (int i = 0; i < out.length; i++) {
            if (!node.get(i).isNumber()) {
                throw new IllegalArgumentException("scheduler config '" + key + "'[" + i + "] is not a number: " + node.get(i));
            }
            out[i] = (float) node.get(i).asDouble();
        }
        return out;
    }
}
