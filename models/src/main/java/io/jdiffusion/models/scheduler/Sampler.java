package io.jdiffusion.models.scheduler;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The one registry of samplers: each with its command-line name and aliases (A1111's {@code k_*} names,
 * ComfyUI's and stable-diffusion.cpp's), A1111's display name (what the PNG {@code parameters} chunk
 * says), the diffusers class it follows, and the {@link Schedule}s it takes. The CLI's help and checks,
 * the PNG labels and the tests all read it.
 *
 * <p>Every sampler with a diffusers class follows it without deliberate departures, the noise of the stochastic
 * ones drawn as diffusers draws it from a CPU generator: pipeline goldens made by diffusers check each one
 * (PipelineGoldenTest, SamplerGoldenTest), with each schedule on at least one sampler. DPM++ 2S a, which
 * diffusers lacks, is checked by its order of convergence (SamplerConvergenceTest).
 */
public enum Sampler {
    PNDM("pndm", List.of(), "PLMS", "PNDMScheduler", false, ScheduleSets.TIMESTEP_SPACING_ONLY,
            (c, eta) -> new PndmScheduler(c)),
    DDIM("ddim", List.of(), "DDIM", "DDIMScheduler", false, ScheduleSets.TIMESTEP_SPACING_ONLY,
            DdimScheduler::new),
    EULER("euler", List.of("k_euler"), "Euler", "EulerDiscreteScheduler", false, ScheduleSets.ALL,
            (c, eta) -> new EulerScheduler(c)),
    EULER_A("euler_a", List.of("euler_ancestral", "k_euler_a", "k_euler_ancestral"), "Euler a",
            "EulerAncestralDiscreteScheduler", true, ScheduleSets.ALL, (c, eta) -> new EulerAncestralScheduler(c)),
    HEUN("heun", List.of("k_heun"), "Heun", "HeunDiscreteScheduler", false, ScheduleSets.ALL,
            (c, eta) -> new HeunScheduler(c)),
    DPM2("dpm2", List.of("dpm_2", "k_dpm_2"), "DPM2", "KDPM2DiscreteScheduler", false, ScheduleSets.ALL,
            (c, eta) -> new Dpm2Scheduler(c, false)),
    DPM2_A("dpm2_a", List.of("dpm_2_ancestral", "k_dpm_2_a"), "DPM2 a", "KDPM2AncestralDiscreteScheduler", true,
            ScheduleSets.ALL, (c, eta) -> new Dpm2Scheduler(c, true)),
    DPMPP_2S_A("dpmpp_2s_a", List.of("dpmpp_2s_ancestral", "k_dpmpp_2s_a", "dpm++2s_a"), "DPM++ 2S a",
            "none (k-diffusion sample_dpmpp_2s_ancestral)", true, ScheduleSets.ALL,
            (c, eta) -> new DpmppTwoSAncestralScheduler(c)),
    DPMPP_2M("dpmpp_2m", List.of("k_dpmpp_2m", "dpm++2m"), "DPM++ 2M", "DPMSolverMultistepScheduler", false,
            ScheduleSets.ALL, (c, eta) -> new DpmSolverMultistepScheduler(c, false)),
    DPMPP_2M_SDE("dpmpp_2m_sde", List.of("k_dpmpp_2m_sde"), "DPM++ 2M SDE",
            "DPMSolverMultistepScheduler(algorithm_type=\"sde-dpmsolver++\")", true, ScheduleSets.ALL,
            (c, eta) -> new DpmSolverMultistepScheduler(c, true)),
    LMS("lms", List.of("k_lms"), "LMS", "LMSDiscreteScheduler", false, ScheduleSets.ALL,
            (c, eta) -> new LmsScheduler(c)),
    UNIPC("unipc", List.of("uni_pc", "uni_pc_bh2"), "UniPC", "UniPCMultistepScheduler", false, ScheduleSets.ALL,
            (c, eta) -> new UniPcScheduler(c)),
    DDPM("ddpm", List.of(), "DDPM", "DDPMScheduler", true, ScheduleSets.TIMESTEP_SPACING_ONLY,
            (c, eta) -> new DdpmScheduler(c)),
    LCM("lcm", List.of(), "LCM", "LCMScheduler", true, EnumSet.of(Schedule.DEFAULT),
            (c, eta) -> new LcmScheduler(c));


    private final String cliName;
    private final List<String> aliases;
    private final String a1111Name;
    private final String diffusersClass;
    private final boolean stochastic;
    private final Set<Schedule> schedules;
    private final Factory factory;

    Sampler(String cliName, List<String> aliases, String a1111Name, String diffusersClass, boolean stochastic,
            Set<Schedule> schedules, Factory factory) {
        this.cliName = cliName;
        this.aliases = aliases;
        this.a1111Name = a1111Name;
        this.diffusersClass = diffusersClass;
        this.stochastic = stochastic;
        this.schedules = schedules;
        this.factory = factory;
    }

    public String cliName() {
        return cliName;
    }

    public List<String> aliases() {
        return aliases;
    }

    /** A1111's name of the sampler ("DPM++ 2M"), without the schedule. */
    public String a1111Name() {
        return a1111Name;
    }

    /**
     * A1111's combined label ("DPM++ 2M Karras"), which every A1111 version reads back: old ones list the
     * Karras variants as samplers of their own, newer ones split a trailing schedule name off.
     */
    public String a1111Label(Schedule schedule) {
        return schedule == Schedule.DEFAULT ? a1111Name : a1111Name + " " + schedule.a1111Name();
    }

    /** The diffusers scheduler class (and its options) this sampler follows formula by formula. */
    public String diffusersClass() {
        return diffusersClass;
    }

    /** Whether the sampler draws fresh noise during the chain (so the seed matters beyond the start). */
    public boolean stochastic() {
        return stochastic;
    }

    /** The schedules this sampler takes; {@link Schedule#DEFAULT} always. */
    public Set<Schedule> schedules() {
        return schedules;
    }

    /** The CLI names, in registry order. */
    public static List<String> cliNames() {
        return Arrays.stream(values()).map(Sampler::cliName).toList();
    }

    /** One line per sampler for help texts: {@code name (A1111 name; schedules)}. */
    public static String describeAll() {
        List<String> lines = new ArrayList<>();
        for (Sampler s : values()) {
            List<String> extra = s.schedules.stream().filter(x -> x != Schedule.DEFAULT).map(Schedule::cliName).toList();
            lines.add(s.cliName + " (" + s.a1111Name + (extra.isEmpty() ? "" : "; " + String.join(", ", extra)) + ")");
        }
        return String.join(", ", lines);
    }

    /**
     * The sampler named {@code name}: a CLI name, an alias or an A1111 display name, in any case. A
     * trailing schedule as A1111 writes it ("DPM++ 2M Karras", "Euler SGM Uniform") is split off.
     *
     * @throws IllegalArgumentException naming the known samplers when nothing matches
     */
    public static Choice parse(String name) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("no sampler given; choose one of " + String.join(", ", cliNames()));
        }
        String trimmed = name.strip();
        Sampler exact = byName(trimmed);
        if (exact != null) {
            return new Choice(exact, Schedule.DEFAULT);
        }
        for (Schedule schedule : Schedule.values()) {
            String suffix = " " + schedule.a1111Name().toLowerCase(Locale.ROOT);
            if (schedule != Schedule.DEFAULT && trimmed.toLowerCase(Locale.ROOT).endsWith(suffix)) {
                Sampler s = byName(trimmed.substring(0, trimmed.length() - suffix.length()));
                if (s != null) {
                    return new Choice(s, schedule).checked();
                }
            }
        }
        throw new IllegalArgumentException("unknown sampler '" + name + "'; choose one of " + String.join(", ", cliNames()));
    }

    private static Sampler byName(String name) {
        for (Sampler s : values()) {
            if (Stream.concat(Stream.of(s.cliName, s.a1111Name), s.aliases.stream()).anyMatch(name::equalsIgnoreCase)) {
                return s;
            }
        }
        return null;
    }

    /**
     * A new scheduler of this kind, configured as {@code X.from_config(config, **schedule)} would be in
     * diffusers: the schedule's keys first, then keys present in the config, then the class's defaults.
     *
     * @param eta DDIM's eta (0 = deterministic); must be 0 for the other samplers
     */
    public Scheduler create(JsonNode schedulerConfig, Schedule schedule, float eta) {
        new Choice(this, schedule).checked();
        if (eta != 0 && this != DDIM) {
            throw new IllegalArgumentException("eta applies to ddim only, got eta " + eta + " with " + cliName);
        }
        return factory.create(new SchedulerConfig(schedule.applyTo(schedulerConfig)), eta);
    }

    /** A sampler with its schedule, as a request names them. */
    public record Choice(Sampler sampler, Schedule schedule) {
        public Choice {
            if (sampler == null || schedule == null) {
                throw new IllegalArgumentException("sampler and schedule must not be null");
            }
        }

        /** This choice, or an error when the sampler does not take the schedule. */
        public Choice checked() {
            if (!sampler.schedules.contains(schedule)) {
                throw new IllegalArgumentException("the " + schedule.cliName() + " schedule does not apply to "
                        + sampler.cliName + "; it takes " + String.join(", ",
                        sampler.schedules.stream().map(Schedule::cliName).toList()));
            }
            return this;
        }

        /** A1111's combined label, e.g. "DPM++ 2M Karras". */
        public String a1111Label() {
            return sampler.a1111Label(schedule);
        }
    }

    @FunctionalInterface
    private interface Factory {
        Scheduler create(SchedulerConfig config, float eta);
    }

    /** The schedule sets, in a holder because enum constants cannot refer to static fields of their enum. */
    private static final class ScheduleSets {
        static final Set<Schedule> ALL = EnumSet.allOf(Schedule.class);
        static final Set<Schedule> TIMESTEP_SPACING_ONLY = EnumSet.of(Schedule.DEFAULT, Schedule.SGM_UNIFORM);
    }
}
