package io.jdiffusion.models.scheduler;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * How the noise levels of a chain are spaced: A1111's "Schedule type", applied as diffusers applies it, by
 * overriding keys of the scheduler config (the table "Noise schedules and schedule types" in diffusers'
 * scheduler overview):
 * <ul>
 *   <li>{@link #DEFAULT}: the sampler class's own spacing (A1111's "Automatic");</li>
 *   <li>{@link #KARRAS}: {@code use_karras_sigmas = true} (Karras et al. 2022, rho 7);</li>
 *   <li>{@link #EXPONENTIAL}: {@code timestep_spacing = "linspace"}, {@code use_exponential_sigmas = true}
 *       (sigmas evenly spaced in log sigma);</li>
 *   <li>{@link #SGM_UNIFORM}: {@code timestep_spacing = "trailing"}.</li>
 * </ul>
 */
public enum Schedule {
    DEFAULT("default", "Automatic", Map.of()),
    KARRAS("karras", "Karras", Map.of("use_karras_sigmas", true)),
    EXPONENTIAL("exponential", "Exponential", Map.of("timestep_spacing", "linspace", "use_exponential_sigmas", true)),
    SGM_UNIFORM("sgm_uniform", "SGM Uniform", Map.of("timestep_spacing", "trailing"));

    private final String cliName;
    private final String a1111Name;
    private final Map<String, Object> overrides;

    Schedule(String cliName, String a1111Name, Map<String, Object> overrides) {
        this.cliName = cliName;
        this.a1111Name = a1111Name;
        this.overrides = overrides;
    }

    /** The name on the command line and in requests: default, karras, exponential, sgm_uniform. */
    public String cliName() {
        return cliName;
    }

    /** A1111's label ("Karras", "SGM Uniform"; "Automatic" for the default). */
    public String a1111Name() {
        return a1111Name;
    }

    /** The config keys this schedule sets (empty for the default). */
    Map<String, Object> overrides() {
        return overrides;
    }

    /** All CLI names, in declaration order. */
    public static List<String> cliNames() {
        return Arrays.stream(values()).map(Schedule::cliName).toList();
    }

    /** The schedule named {@code name} (CLI name or A1111 label, any case). */
    public static Schedule parse(String name) {
        for (Schedule s : values()) {
            if (s.cliName.equalsIgnoreCase(name) || s.a1111Name.equalsIgnoreCase(name)) {
                return s;
            }
        }
        throw new IllegalArgumentException("unknown schedule '" + name + "'; choose one of " + String.join(", ", cliNames()));
    }

    /**
     * A copy of {@code config} with this schedule's keys set, as {@code X.from_config(config, **overrides)}:
     * the keys also leave {@code _use_default_values}, so that they count as given.
     */
    JsonNode applyTo(JsonNode config) {
        if (overrides.isEmpty()) {
            return config;
        }
        if (config == null || !config.isObject()) {
            throw new IllegalArgumentException("scheduler config must be a JSON object, got " + config);
        }
        ObjectNode copy = ((ObjectNode) config).deepCopy();
        overrides.forEach((key, value) -> {
            if (value instanceof Boolean b) {
                copy.put(key, b);
            } else {
                copy.put(key, (String) value);
            }
        });
        JsonNode defaulted = copy.get("_use_default_values");
        if (defaulted instanceof ArrayNode list) {
            for (int i = list.size() - 1; i >= 0; i--) {
                if (overrides.containsKey(list.get(i).asText())) {
                    list.remove(i);
                }
            }
        }
        return copy;
    }

    @Override
    public String toString() {
        return cliName.toLowerCase(Locale.ROOT);
    }
}
