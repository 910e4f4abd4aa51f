package io.jdiffusion.server.api;

import io.jdiffusion.models.pipeline.SamplerLabels;
import io.jdiffusion.models.scheduler.Schedulers;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * AUTOMATIC1111's sampler and scheduler names for jdiffusion's samplers, read from requests and listed by
 * {@code /sdapi/v1/samplers} and {@code /schedulers}. A sampler arrives either as a display name and a
 * separate scheduler ("DPM++ 2M" + "karras", A1111 1.9 on) or with the schedule in the name ("DPM++ 2M
 * Karras", older clients); jdiffusion's own names (euler_a) and A1111's k-diffusion aliases are accepted too.
 */
public final class A1111Samplers {
    /** What one request runs: jdiffusion's sampler name and whether it uses Karras sigmas. */
    public record Choice(String sampler, boolean karras) {
        public String label() {
            return SamplerLabels.a1111(sampler, karras);
        }
    }

    /** A1111's k-diffusion aliases per jdiffusion sampler (as its /samplers lists them). */
    private static final Map<String, List<String>> ALIASES = Map.of(
            "pndm", List.of("plms"),
            "ddim", List.of("ddim"),
            "euler", List.of("k_euler"),
            "euler_a", List.of("k_euler_a", "k_euler_ancestral"),
            "dpmpp_2m", List.of("k_dpmpp_2m"),
            "lms", List.of("k_lms"));

    /** The schedulers A1111 names that jdiffusion implements: the sampler's own schedule, or Karras's. */
    public static final List<String> SCHEDULERS = List.of("automatic", "uniform", "karras");

    private A1111Samplers() {
    }

    /** Display names, in jdiffusion's order. */
    public static List<String> displayNames() {
        return Schedulers.names().stream().map(s -> SamplerLabels.a1111(s, false)).toList();
    }

    public static List<String> aliases(String displayName) {
        return ALIASES.getOrDefault(resolveName(displayName), List.of());
    }

    /**
     * The sampler a request names ({@code sampler_name}, falling back to {@code sampler_index}) with its
     * {@code scheduler}. Unknown samplers are 404 as A1111 answers them; an unknown or inapplicable
     * scheduler is 422.
     */
    public static Choice choose(String samplerField, String samplerName, String schedulerField, String scheduler) {
        String name = samplerName.strip();
        boolean karrasInName = false;
        if (name.toLowerCase(Locale.ROOT).endsWith(" karras")) {
            karrasInName = true;
            name = name.substring(0, name.length() - " karras".length()).strip();
        }
        String sampler = resolveName(name);
        if (sampler == null) {
            throw new InvalidRequestException(404, samplerField, "sampler '" + samplerName + "' not found; available: "
                    + String.join(", ", displayNames()));
        }
        String schedule = scheduler == null ? "automatic" : scheduler.strip().toLowerCase(Locale.ROOT);
        if (!SCHEDULERS.contains(schedule)) {
            throw new InvalidRequestException(schedulerField, "scheduler '" + scheduler + "' is not implemented; available: "
                    + String.join(", ", SCHEDULERS));
        }
        boolean karras = karrasInName || schedule.equals("karras");
        if (karras && !Schedulers.karrasCapable().contains(sampler)) {
            throw new InvalidRequestException(schedulerField, "Karras sigmas apply to "
                    + String.join(", ", Schedulers.karrasCapable().stream().map(s -> SamplerLabels.a1111(s, false)).toList())
                    + ", not to " + SamplerLabels.a1111(sampler, false));
        }
        return new Choice(sampler, karras);
    }

    /** jdiffusion's name for a display name, alias or jdiffusion name (case-insensitive); null if none. */
    private static String resolveName(String name) {
        String wanted = name.toLowerCase(Locale.ROOT);
        for (String s : Schedulers.names()) {
            if (s.equals(wanted) || SamplerLabels.a1111(s, false).toLowerCase(Locale.ROOT).equals(wanted)
                    || ALIASES.getOrDefault(s, List.of()).contains(wanted)) {
                return s;
            }
        }
        return null;
    }
}
