package io.jdiffusion.models.scheduler;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** The sampler registry: names, A1111 labels, schedules and how they reach the scheduler config. */
class SamplerRegistryTest {

    /**
     * A1111's sampler labels (modules/sd_samplers_kdiffusion.py samplers_k_diffusion, and DDIM, PLMS, UniPC
     * and LCM from its timestep and LCM sampler modules) that jdiffusion has, each with the sampler it means.
     */
    @Test
    void a1111LabelsParseToTheirSamplerAndSchedule() {
        Object[][] labels = {
                {"Euler a", Sampler.EULER_A, Schedule.DEFAULT}, {"Euler", Sampler.EULER, Schedule.DEFAULT},
                {"LMS", Sampler.LMS, Schedule.DEFAULT}, {"Heun", Sampler.HEUN, Schedule.DEFAULT},
                {"DPM2", Sampler.DPM2, Schedule.DEFAULT}, {"DPM2 a", Sampler.DPM2_A, Schedule.DEFAULT},
                {"DPM++ 2S a", Sampler.DPMPP_2S_A, Schedule.DEFAULT}, {"DPM++ 2M", Sampler.DPMPP_2M, Schedule.DEFAULT},
                {"DPM++ 2M SDE", Sampler.DPMPP_2M_SDE, Schedule.DEFAULT}, {"LMS Karras", Sampler.LMS, Schedule.KARRAS},
                {"DPM2 Karras", Sampler.DPM2, Schedule.KARRAS}, {"DPM2 a Karras", Sampler.DPM2_A, Schedule.KARRAS},
                {"DPM++ 2S a Karras", Sampler.DPMPP_2S_A, Schedule.KARRAS},
                {"DPM++ 2M Karras", Sampler.DPMPP_2M, Schedule.KARRAS},
                {"DPM++ 2M SDE Karras", Sampler.DPMPP_2M_SDE, Schedule.KARRAS},
                {"DPM++ 2M SDE Exponential", Sampler.DPMPP_2M_SDE, Schedule.EXPONENTIAL},
                {"Euler SGM Uniform", Sampler.EULER, Schedule.SGM_UNIFORM},
                {"DDIM", Sampler.DDIM, Schedule.DEFAULT}, {"PLMS", Sampler.PNDM, Schedule.DEFAULT},
                {"UniPC", Sampler.UNIPC, Schedule.DEFAULT}, {"LCM", Sampler.LCM, Schedule.DEFAULT},
                {"k_dpmpp_2m", Sampler.DPMPP_2M, Schedule.DEFAULT}, {"dpm++2s_a", Sampler.DPMPP_2S_A, Schedule.DEFAULT},
                {"euler_ancestral", Sampler.EULER_A, Schedule.DEFAULT}, {"uni_pc", Sampler.UNIPC, Schedule.DEFAULT}};
        for (Object[] row : labels) {
            assertThat(Sampler.parse((String) row[0])).as((String) row[0])
                    .isEqualTo(new Sampler.Choice((Sampler) row[1], (Schedule) row[2]));
        }
    }

    /** Every sampler with every schedule it takes: its A1111 label and its CLI name lead back to it. */
    @Test
    void everyLabelRoundTrips() {
        for (Sampler s : Sampler.values()) {
            assertThat(s.schedules()).contains(Schedule.DEFAULT);
            for (Schedule schedule : s.schedules()) {
                Sampler.Choice choice = new Sampler.Choice(s, schedule);
                assertThat(Sampler.parse(choice.a1111Label())).isEqualTo(choice);
                assertThat(Sampler.parse(choice.a1111Label().toUpperCase(Locale.ROOT))).isEqualTo(choice);
            }
            assertThat(Sampler.parse(s.cliName()).sampler()).isEqualTo(s);
            s.aliases().forEach(a -> assertThat(Sampler.parse(a).sampler()).as(a).isEqualTo(s));
            assertThat(s.diffusersClass()).isNotBlank();
        }
        assertThat(new Sampler.Choice(Sampler.DPMPP_2M, Schedule.KARRAS).a1111Label()).isEqualTo("DPM++ 2M Karras");
        assertThat(Sampler.EULER_A.a1111Label(Schedule.DEFAULT)).isEqualTo("Euler a");
    }

    @Test
    void namesAreUnambiguous() {
        Set<String> seen = new HashSet<>();
        for (Sampler s : Sampler.values()) {
            Stream.concat(Stream.of(s.cliName(), s.a1111Name()), s.aliases().stream())
                    .map(n -> n.toLowerCase(Locale.ROOT)).distinct()
                    .forEach(n -> assertThat(seen.add(n)).as("name %s used by two samplers", n).isTrue());
        }
    }

    @Test
    void unknownNamesAndUnsupportedSchedulesSayWhatIsKnown() {
        assertThatThrownBy(() -> Sampler.parse("DPM fast")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("unknown sampler 'DPM fast'; choose one of " + String.join(", ", Sampler.cliNames()));
        assertThatThrownBy(() -> Sampler.parse("PLMS Karras")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("the karras schedule does not apply to pndm; it takes default, sgm_uniform");
        assertThatThrownBy(() -> Sampler.LCM.create(SchedulerGoldenTest.modelConfig(), Schedule.SGM_UNIFORM, 0f))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("does not apply to lcm");
        assertThatThrownBy(() -> Schedule.parse("beta")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("unknown schedule 'beta'; choose one of default, karras, exponential, sgm_uniform");
        assertThatThrownBy(() -> Sampler.HEUN.create(SchedulerGoldenTest.modelConfig(), Schedule.DEFAULT, 0.3f))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("eta applies to ddim only");
    }

    /** Schedules are diffusers' config overrides, and they win over keys listed as defaulted. */
    @Test
    void schedulesOverrideTheConfig() {
        ObjectNode config = SchedulerGoldenTest.modelConfig().deepCopy();
        config.putArray("_use_default_values").add("timestep_spacing").add("steps_offset");
        config.put("timestep_spacing", "leading");
        JsonNode exponential = Schedule.EXPONENTIAL.applyTo(config);
        assertThat(exponential.get("use_exponential_sigmas").asBoolean()).isTrue();
        assertThat(exponential.get("timestep_spacing").asText()).isEqualTo("linspace");
        assertThat(exponential.get("_use_default_values")).hasSize(1);
        assertThat(config.has("use_exponential_sigmas")).as("the model's config is left alone").isFalse();
        assertThat(Schedule.DEFAULT.applyTo(config)).isSameAs(config);
    }

    /** Exponential sigmas are evenly spaced in log sigma between the default chain's ends. */
    @Test
    void exponentialSigmasAreGeometric() {
        SigmaSpaceScheduler plain = (SigmaSpaceScheduler) Sampler.EULER.create(SchedulerGoldenTest.modelConfig(), Schedule.DEFAULT, 0f);
        SigmaSpaceScheduler exp = (SigmaSpaceScheduler) Sampler.EULER.create(SchedulerGoldenTest.modelConfig(), Schedule.EXPONENTIAL, 0f);
        plain.setTimesteps(10);
        exp.setTimesteps(10);
        float[] p = plain.sigmas();
        float[] e = exp.sigmas();
        assertThat(e[0]).isEqualTo(p[0]);
        assertThat(e[9]).isCloseTo(p[9], within(1e-6f));
        assertThat(e[10]).isZero();
        double ratio = Math.log(e[1] / e[0]);
        for (int i = 1; i < 9; i++) {
            assertThat(Math.log(e[i + 1] / e[i])).isCloseTo(ratio, within(1e-5));
        }
        float[] t = exp.timesteps();
        assertThat(t[0]).isCloseTo(999f, within(1e-3f));
        assertThat(t[9]).isCloseTo(0f, within(1e-3f));
    }

    /** SGM Uniform is trailing spacing: for DDIM, 999, 899, ..., 99 (diffusers' round(arange(T, 0, -T/n)) - 1). */
    @Test
    void sgmUniformIsTrailingSpacing() {
        Scheduler ddim = Sampler.DDIM.create(SchedulerGoldenTest.modelConfig(), Schedule.SGM_UNIFORM, 0f);
        ddim.setTimesteps(10);
        assertThat(ddim.timesteps()).containsExactly(999f, 899f, 799f, 699f, 599f, 499f, 399f, 299f, 199f, 99f);
        Scheduler euler = Sampler.EULER.create(SchedulerGoldenTest.modelConfig(), Schedule.SGM_UNIFORM, 0f);
        euler.setTimesteps(4);
        assertThat(euler.timesteps()).containsExactly(999f, 749f, 499f, 249f);
    }

    /** The two-call samplers' call lists, as diffusers interleaves them; LCM's skipping schedule. */
    @Test
    void callPlans() {
        Scheduler heun = Sampler.HEUN.create(SchedulerGoldenTest.modelConfig(), Schedule.SGM_UNIFORM, 0f);
        heun.setTimesteps(4);
        assertThat(heun.timesteps()).containsExactly(999f, 749f, 749f, 499f, 499f, 249f, 249f);
        assertThat(heun.orderOfCalls()).isEqualTo(2);
        Scheduler dpm2 = Sampler.DPM2.create(SchedulerGoldenTest.modelConfig(), Schedule.SGM_UNIFORM, 0f);
        dpm2.setTimesteps(4);
        float[] t = dpm2.timesteps();
        assertThat(t).hasSize(7);
        assertThat(List.of(t[0], t[2], t[4], t[6])).containsExactly(999f, 749f, 499f, 249f);
        for (int k = 0; k < 3; k++) {
            assertThat(t[2 * k + 1]).as("midpoint timestep").isBetween(t[2 * k + 2], t[2 * k]);
            float mid = dpm2.noiseLevel(2 * k + 1);
            assertThat((double) mid).isCloseTo(Math.sqrt(dpm2.noiseLevel(2 * k) * dpm2.noiseLevel(2 * k + 2)), within(1e-4));
        }
        Scheduler lcm = Sampler.LCM.create(SchedulerGoldenTest.modelConfig(), Schedule.DEFAULT, 0f);
        lcm.setTimesteps(4);
        assertThat(lcm.timesteps()).containsExactly(999f, 759f, 499f, 259f);
        assertThatThrownBy(() -> lcm.setTimesteps(51)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at most 50 steps");
    }
}
