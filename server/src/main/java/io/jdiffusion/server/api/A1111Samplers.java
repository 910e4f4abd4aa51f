package io.jdiffusion.server.api;

import io.jdiffusion.models.scheduler.Sampler;
import io.jdiffusion.models.scheduler.Schedule;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * AUTOMATIC1111's sampler and scheduler names, read from requests and listed by {@code /sdapi/v1/samplers}
 * and {@code /schedulers}, all taken from the sampler registry ({@link Sampler}, {@link Schedule}). A sampler
 * arrives either as a display name and a separate scheduler ("DPM++ 2M" + "karras", A1111 1.9 on) or with the
 * schedule in the name ("DPM++ 2M Karras", older clients); jdiffusion's own names (euler_a) and A1111's
 * k-diffusion aliases are accepted too.
 */
public final class A1111Samplers {
    /** A1111's scheduler names that jdiffusion implements: "automatic" and "uniform" keep the sampler's own. */
    public static final List<String> SCHEDULERS = schedulers();

    private A1111Samplers() {
    }

    private static List<String> schedulers() {
        List<String> names = new ArrayList<>(List.of("automatic", "uniform"));
        Arrays.stream(Schedule.values()).filter(s -> s != Schedule.DEFAULT).map(Schedule::cliName).forEach(names::add);
        return List.copyOf(names);
    }

    /** Display names, in registry order. */
    public static List<String> displayNames() {
        return Arrays.stream(Sampler.values()).map(Sampler::a1111Name).toList();
    }

    /** The aliases of the sampler a display name names (empty for an unknown name). */
    public static List<String> aliases(String displayName) {
        try {
            return Sampler.parse(displayName).sampler().aliases();
        } catch (IllegalArgumentException e) {
            return List.of();
        }
    }

    /**
     * The sampler a request names ({@code sampler_name}, falling back to {@code sampler_index}) with its
     * {@code scheduler}. Unknown samplers are 404 as A1111 answers them; an unknown or inapplicable
     * scheduler is 422.
     */
    public static Sampler.Choice choose(String samplerField, String samplerName, String schedulerField, String scheduler) {
        Sampler.Choice named;
        try {
            named = Sampler.parse(samplerName);
        } catch (IllegalArgumentException e) {
            throw new InvalidRequestException(404, samplerField, "sampler '" + samplerName + "' not found; available: "
                    + String.join(", ", displayNames()));
        }
        String wanted = scheduler == null ? "automatic" : scheduler.strip().toLowerCase(Locale.ROOT);
        Schedule schedule;
        if (wanted.equals("automatic") || wanted.equals("uniform")) {
            schedule = named.schedule();
        } else {
            try {
                schedule = Schedule.parse(wanted);
            } catch (IllegalArgumentException e) {
                throw new InvalidRequestException(schedulerField, "scheduler '" + scheduler + "' is not implemented; available: "
                        + String.join(", ", SCHEDULERS));
            }
        }
        try {
            return new Sampler.Choice(named.sampler(), schedule).checked();
        } catch (IllegalArgumentException e) {
            throw new InvalidRequestException(schedulerField, e.getMessage());
        }
    }
}
