package io.jdiffusion.models.scheduler;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.List;

/** The samplers by name, each configured from a model's {@code scheduler/scheduler_config.json}. */
public final class Schedulers {
    private static final List<String> NAMES = List.of("pndm", "ddim", "euler", "euler_a", "dpmpp_2m", "lms");
    private static final List<String> KARRAS_CAPABLE = List.of("euler", "euler_a", "dpmpp_2m", "lms");

    private Schedulers() {
    }

    /** The samplers that take Karras sigmas. */
    public static List<String> karrasCapable() {
        return KARRAS_CAPABLE;
    }

    /** pndm, ddim, euler, euler_a, dpmpp_2m, lms. */
    public static List<String> names() {
        return NAMES;
    }

    /**
     * A sampler configured as {@code X.from_config(config)} would be in diffusers: keys present in the
     * config win, the others take the sampler class's defaults (see {@link SchedulerConfig}).
     *
     * @param name            one of {@link #names()}
     * @param schedulerConfig the model's scheduler_config.json (any scheduler class's: SD 1.5 ships PNDM's)
     * @param karras          Karras sigmas (diffusers' use_karras_sigmas) for euler, euler_a, dpmpp_2m and lms
     * @param ddimEta         DDIM's eta (0 = deterministic DDIM); must be 0 for the other samplers
     * @throws IllegalArgumentException for an unknown name, an option the sampler lacks, or a config value
     *                                  this port does not implement
     */
    public static Scheduler create(String name, JsonNode schedulerConfig, boolean karras, float ddimEta) {
        if (name == null || !NAMES.contains(name)) {
            throw new IllegalArgumentException("unknown scheduler '" + name + "'; known: " + String.join(", ", NAMES));
        }
        if (karras && !KARRAS_CAPABLE.contains(name)) {
            throw new IllegalArgumentException("Karras sigmas apply to " + String.join(", ", KARRAS_CAPABLE)
                    + ", not to " + name);
        }
        if (ddimEta != 0 && !name.equals("ddim")) {
            throw new IllegalArgumentException("eta applies to ddim only, got eta " + ddimEta + " with " + name);
        }
        SchedulerConfig config = new SchedulerConfig(schedulerConfig);
        return switch (name) {
            case "pndm" -> new PndmScheduler(config);
            case "ddim" -> new DdimScheduler(config, ddimEta);
            case "euler" -> new EulerScheduler(config, karras);
            case "euler_a" -> new EulerAncestralScheduler(config, karras);
            case "dpmpp_2m" -> new DpmSolverMultistepScheduler(config, karras);
            case "lms" -> new LmsScheduler(config, karras);
            default -> throw new AssertionError(name);
        };
    }

    /**
     * Where an img2img chain starts, as diffusers' StableDiffusionImg2ImgPipeline.get_timesteps computes it:
     * {@code init_timestep = min(int(steps * strength), steps)}, {@code t_start = max(steps - init_timestep, 0)},
     * and denoising runs {@code timesteps()[t_start * order:]}. The caller noises the encoded image with
     * {@link Scheduler#addNoise} at the returned index and then steps from that index on (strength 1 starts
     * at 0 from almost pure noise; strength 0 returns {@code steps * order}: for PNDM, whose list is one
     * longer, that still leaves one call, as in diffusers).
     *
     * <p>{@code strength * steps} is evaluated on the decimal value of {@code strength} (0.7f counts as 0.7,
     * not 0.69999999), as a Python float literal would be.
     *
     * @param scheduler         a scheduler whose {@link Scheduler#setTimesteps} was called with {@code numInferenceSteps}
     * @param numInferenceSteps the steps the user asked for
     * @param strength          in [0, 1]: how much of the schedule to run
     */
    public static int img2imgStartIndex(Scheduler scheduler, int numInferenceSteps, float strength) {
        if (!(strength >= 0 && strength <= 1)) {
            throw new IllegalArgumentException("img2img strength must be in [0, 1], got " + strength);
        }
        if (numInferenceSteps < 1) {
            throw new IllegalArgumentException("numInferenceSteps must be >= 1, got " + numInferenceSteps);
        }
        double decimalStrength = Double.parseDouble(Float.toString(strength));
        int initTimestep = Math.min((int) (numInferenceSteps * decimalStrength), numInferenceSteps);
        int tStart = Math.max(numInferenceSteps - initTimestep, 0);
        return tStart * scheduler.orderOfCalls();
    }
}
