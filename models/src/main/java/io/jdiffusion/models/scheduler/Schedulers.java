package io.jdiffusion.models.scheduler;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.List;

/** Scheduler construction by name and the img2img start arithmetic; the samplers themselves are listed in {@link Sampler}. */
public final class Schedulers {
    private Schedulers() {
    }

    /** The CLI names of the samplers that take Karras sigmas, in registry order. */
    public static List<String> karrasCapable() {
        return java.util.Arrays.stream(Sampler.values()).filter(x -> x.schedules().contains(Schedule.KARRAS))
                .map(Sampler::cliName).toList();
    }

    /** The CLI names of all samplers, in registry order. */
    public static List<String> names() {
        return Sampler.cliNames();
    }

    /**
     * A sampler configured as {@code X.from_config(config)} would be in diffusers (see
     * {@link Sampler#create}).
     *
     * @param name            a sampler name {@link Sampler#parse} accepts ("euler_a", "DPM++ 2M Karras")
     * @param schedulerConfig the model's scheduler_config.json (any scheduler class's: SD 1.5 ships PNDM's)
     * @param karras          Karras sigmas; also given by a name that ends in " Karras"
     * @param ddimEta         DDIM's eta (0 = deterministic DDIM); must be 0 for the other samplers
     * @throws IllegalArgumentException for an unknown name, an option the sampler lacks, or a config value
     *                                  this port does not implement
     */
    public static Scheduler create(String name, JsonNode schedulerConfig, boolean karras, float ddimEta) {
        Sampler.Choice choice = Sampler.parse(name);
        Schedule schedule = karras ? Schedule.KARRAS : choice.schedule();
        return choice.sampler().create(schedulerConfig, schedule, ddimEta);
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
