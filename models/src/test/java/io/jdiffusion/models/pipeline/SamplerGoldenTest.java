package io.jdiffusion.models.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.core.safetensors.SafetensorsFile;
import io.jdiffusion.models.scheduler.Sampler;
import io.jdiffusion.models.scheduler.Schedule;
import io.jdiffusion.models.testsupport.Golden;
import io.jdiffusion.models.testsupport.PipelineFixture;
import io.jdiffusion.testdata.TinySd;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The samplers and schedules beyond the first six against diffusers on the tiny model (tiny-sd/golden-samplers,
 * made by tools/reference/make_sampler_goldens.py): the seed draws the initial latents and every step's noise, as
 * {@code ./jdiffusion generate --seed} does, and the final latents are compared. DPM++ 2S a has no diffusers class
 * and stays on its order of convergence (SamplerConvergenceTest).
 */
class SamplerGoldenTest {
    private static final Path DIR = TinySd.root().resolve("tiny-sd/golden-samplers");
    /**
     * Relative L2 tolerance, per case. Measured on a 2-core x86 CPU: 0.9e-6 (LCM) to 4.2e-6 (DPM2) against
     * diffusers, which is float32 rounding through 4 to 11 UNet calls; the stochastic samplers land in the same range, so
     * the torch.randn port adds nothing visible. 2e-5 leaves room for other CPUs' vector widths and still fails on any
     * change of formula, noise order or timestep.
     */
    private static final Map<String, Double> TOLERANCE = Map.ofEntries(
            Map.entry("heun", 2e-5), Map.entry("dpm2", 2e-5), Map.entry("dpm2_a", 2e-5),
            Map.entry("dpmpp_2m_sde", 2e-5), Map.entry("unipc", 2e-5), Map.entry("ddpm", 2e-5), Map.entry("lcm", 2e-5),
            Map.entry("karras_dpmpp_2m_sde", 2e-5), Map.entry("karras_dpm2_a", 2e-5),
            Map.entry("exponential_heun", 2e-5), Map.entry("exponential_euler", 2e-5),
            Map.entry("sgm_uniform_unipc", 2e-5), Map.entry("sgm_uniform_ddpm", 2e-5));
    private static PipelineFixture fixture;
    private static SafetensorsFile golden;

    @BeforeAll
    static void load() {
        fixture = PipelineFixture.open(TinySd.modelDir());
        golden = SafetensorsFile.open(DIR.resolve("sampler_goldens.safetensors"));
    }

    @AfterAll
    static void close() {
        golden.close();
        fixture.close();
    }

    static Stream<String> cases() {
        List<String> names = new ArrayList<>();
        index().get("cases").forEach(c -> names.add(c.get("name").asText()));
        return names.stream();
    }

    @ParameterizedTest
    @MethodSource("cases")
    void seededRunMatchesDiffusers(String name) {
        JsonNode c = goldenCase(name);
        Sampler sampler = Sampler.parse(c.get("sampler").asText()).sampler();
        assertThat(sampler.diffusersClass()).as("the registry's diffusers class").startsWith(c.get("diffusers_class").asText());
        GenerationRequest request = GenerationRequest.builder().prompt(c.get("prompt").asText()).seed(c.get("seed").asLong())
                .sampler(c.get("sampler").asText()).schedule(Schedule.parse(c.get("schedule").asText()))
                .steps(c.get("steps").asInt()).guidanceScale((float) c.get("guidance").asDouble())
                .size(c.get("width").asInt(), c.get("height").asInt()).decodeImage(false).build();
        Tensor expected = golden.tensor(name + ".final_latents");
        try (GenerationResult result = fixture.pipeline().generate(request, ProgressListener.NONE);
             Tensor latents = Tensor.ofFloats(expected.shape(), result.latents())) {
            Golden.check("sampler " + name + " final latents", latents, expected, TOLERANCE.get(name));
        }
    }

    /** Every sampler with a diffusers class and every schedule has a case, so a new one cannot go unchecked. */
    @Test
    void everySamplerAndScheduleHasACase() {
        Set<Sampler> samplers = EnumSet.noneOf(Sampler.class);
        Set<Schedule> schedules = EnumSet.noneOf(Schedule.class);
        index().get("cases").forEach(c -> {
            samplers.add(Sampler.parse(c.get("sampler").asText()).sampler());
            schedules.add(Schedule.parse(c.get("schedule").asText()));
            assertThat(TOLERANCE).as("tolerance of " + c.get("name")).containsKey(c.get("name").asText());
        });
        assertThat(samplers).containsAll(EnumSet.of(Sampler.HEUN, Sampler.DPM2, Sampler.DPM2_A, Sampler.DPMPP_2M_SDE,
                Sampler.UNIPC, Sampler.DDPM, Sampler.LCM));
        assertThat(schedules).containsExactlyInAnyOrder(Schedule.values());
    }

    private static JsonNode index() {
        try {
            return new ObjectMapper().readTree(DIR.resolve("sampler_goldens.json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static JsonNode goldenCase(String name) {
        for (JsonNode c : index().get("cases")) {
            if (c.get("name").asText().equals(name)) {
                return c;
            }
        }
        throw new IllegalArgumentException(name);
    }
}
