package io.jdiffusion.models.scheduler;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jdiffusion.core.Numerics;
import io.jdiffusion.core.safetensors.SafetensorsFile;
import io.jdiffusion.models.rng.TorchGenerator;
import io.jdiffusion.testdata.GoldenSet;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * Every sampler against diffusers 0.40 (golden cases {@code scheduler_*} of every golden set): the scheduler
 * made from the set's config file as {@code X.from_config} makes it, 20 steps on a [1,4,8,8] sample, with the model
 * output of each call given (randn seeded 1000 + i).
 */
class SchedulerGoldenTest {
    static final double ROW_TOLERANCE = 1e-5;

    /** tiny-sd's scheduler config: SD 1.5's PNDM file. */
    static JsonNode modelConfig() {
        return modelConfig(GoldenSet.TINY_SD);
    }

    static JsonNode modelConfig(GoldenSet set) {
        try {
            return new ObjectMapper().readTree(set.modelDir().resolve("scheduler/scheduler_config.json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Every scheduler case of every golden set: tiny-sd (SD 1.5's PNDM json, epsilon), tiny-sd2 (SD 2.1's DDIM
     * json, v-prediction) and tiny-sdxl (SDXL's Euler json, "leading" spacing carried to every sampler).
     */
    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (GoldenSet set : List.of(GoldenSet.TINY_SD, GoldenSet.TINY_SD2, GoldenSet.TINY_SDXL)) {
            for (String n : set.caseNames()) {
                if (n.startsWith("scheduler_") && !n.equals("scheduler_common")) {
                    out.add(Arguments.of(set, n.substring("scheduler_".length())));
                }
            }
        }
        return out.stream();
    }

    /** The rows of one golden tensor, [calls][elements]. */
    static float[][] rows(GoldenSet set, JsonNode c, String role) {
        try (SafetensorsFile f = set.golden("schedulers.safetensors")) {
            JsonNode spec = c.get("tensors").get(role);
            float[] flat = f.tensor(spec.get("key").asText()).toFloatArray();
            int rows = spec.get("shape").get(0).asInt();
            int width = flat.length / rows;
            float[][] out = new float[rows][];
            for (int r = 0; r < rows; r++) {
                out[r] = Arrays.copyOfRange(flat, r * width, (r + 1) * width);
            }
            return out;
        }
    }

    static float[] flat(GoldenSet set, JsonNode c, String role) {
        try (SafetensorsFile f = set.golden("schedulers.safetensors")) {
            return f.tensor(c.get("tensors").get(role).get("key").asText()).toFloatArray();
        }
    }

    static float[] scaled(float[] x, float factor) {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i] * factor;
        }
        return out;
    }

    @ParameterizedTest
    @MethodSource("sets")
    void noiseScheduleIsBitExact(GoldenSet set) {
        JsonNode c = set.goldenCase("scheduler_common");
        NoiseSchedule schedule = NoiseSchedule.fromConfig(new SchedulerConfig(modelConfig(set)), NoiseSchedule.ZeroSnr.IGNORED);
        assertThat(schedule.betas()).containsExactly(flat(set, c, "betas"));
        assertThat(schedule.alphasCumprod()).containsExactly(flat(set, c, "alphas_cumprod"));
    }

    static Stream<GoldenSet> sets() {
        return Stream.of(GoldenSet.TINY_SD, GoldenSet.TINY_SD2, GoldenSet.TINY_SDXL);
    }

    /**
     * Step by step: each call starts from the golden sample of the previous call, so an error in one step
     * cannot hide behind another. Multistep state is built from those same samples.
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void everyCallMatchesDiffusers(GoldenSet set, String name) {
        JsonNode c = set.goldenCase("scheduler_" + name);
        Scheduler scheduler = Schedulers.create(name, modelConfig(set), false, 0f);
        scheduler.setTimesteps(c.get("num_inference_steps").asInt());

        float[] timesteps = scheduler.timesteps();
        float[] goldenTimesteps = flat(set, c, "timesteps");
        assertThat(timesteps).as("timesteps").containsExactly(goldenTimesteps);
        for (int i = 0; i < timesteps.length; i++) {
            assertThat(timesteps[i]).isEqualTo(c.get("timesteps_list").get(i).floatValue());
        }
        if (c.get("tensors").has("sigmas")) {
            float[] sigmas = scheduler instanceof SigmaSpaceScheduler s ? s.sigmas()
                    : ((DpmSolverMultistepScheduler) scheduler).sigmas();
            float[] expected = flat(set, c, "sigmas");
            if (set.equals(GoldenSet.TINY_SD)) {
                assertThat(sigmas).as("sigmas").containsExactly(expected);
            } else {
                // the later sets were made with another torch/numpy build: a few sigmas differ there in the last bit
                assertThat(sigmas).as("sigmas").hasSameSizeAs(expected);
                for (int i = 0; i < sigmas.length; i++) {
                    assertThat(sigmas[i]).as("sigma %d", i).isCloseTo(expected[i], within(2 * Math.ulp(expected[i])));
                }
            }
        }
        assertThat(scheduler.initNoiseSigma()).isEqualTo(c.get("init_noise_sigma").floatValue());
        assertThat(scheduler.orderOfCalls()).isEqualTo(c.get("order").asInt());

        float[][] modelInput = rows(set, c, "model_input");
        float[][] modelOutput = rows(set, c, "model_output");
        float[][] prevSample = rows(set, c, "prev_sample");
        float[][] predOriginal = c.get("tensors").has("pred_original_sample") ? rows(set, c, "pred_original_sample") : null;
        float[][] noise = c.get("tensors").has("noise") ? rows(set, c, "noise") : null;
        float[] xT = flat(set, c, "x_T");
        assertThat(modelOutput).hasNumberOfRows(timesteps.length);

        TorchGenerator generator = new TorchGenerator(4321);
        TorchGenerator noiseCheck = new TorchGenerator(4321);
        double[] worst = new double[3];
        for (int i = 0; i < timesteps.length; i++) {
            float[] sample = i == 0 ? scaled(xT, scheduler.initNoiseSigma()) : prevSample[i - 1];
            double inputErr = Numerics.relativeL2(scheduler.scaleModelInput(sample, i), modelInput[i]);
            double prevErr = Numerics.relativeL2(scheduler.step(modelOutput[i], i, sample, generator), prevSample[i]);
            assertThat(inputErr).as("%s call %d model_input", name, i).isLessThanOrEqualTo(ROW_TOLERANCE);
            assertThat(prevErr).as("%s call %d prev_sample", name, i).isLessThanOrEqualTo(ROW_TOLERANCE);
            worst[0] = Math.max(worst[0], inputErr);
            worst[1] = Math.max(worst[1], prevErr);
            if (predOriginal != null) {
                double x0Err = Numerics.relativeL2(scheduler.predOriginalSample(), predOriginal[i]);
                assertThat(x0Err).as("%s call %d pred_original_sample", name, i).isLessThanOrEqualTo(ROW_TOLERANCE);
                worst[2] = Math.max(worst[2], x0Err);
            }
            if (noise != null) {
                assertThat(noiseCheck.randn(noise[i].length)).as("euler_a noise of call %d", i).containsExactly(noise[i]);
            }
        }
        System.out.printf("%s scheduler_%s per call, max relative L2: model_input %.3g, prev_sample %.3g, pred_original %s%n",
                set.name(), name, worst[0], worst[1], predOriginal == null ? "n/a" : String.format("%.3g", worst[2]));
    }

    /** The whole chain from x_T with the scheduler's own samples, as a pipeline runs it. */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void wholeChainMatchesDiffusers(GoldenSet set, String name) {
        JsonNode c = set.goldenCase("scheduler_" + name);
        Scheduler scheduler = Schedulers.create(name, modelConfig(set), false, 0f);
        scheduler.setTimesteps(20);
        float[][] modelOutput = rows(set, c, "model_output");
        float[][] prevSample = rows(set, c, "prev_sample");
        TorchGenerator generator = new TorchGenerator(4321);
        float[] sample = scaled(flat(set, c, "x_T"), scheduler.initNoiseSigma());
        double worst = 0;
        for (int i = 0; i < modelOutput.length; i++) {
            sample = scheduler.step(modelOutput[i], i, sample, generator);
            worst = Math.max(worst, Numerics.relativeL2(sample, prevSample[i]));
        }
        double finalErr = Numerics.relativeL2(sample, prevSample[prevSample.length - 1]);
        System.out.printf("%s scheduler_%s whole chain: final prev_sample relative L2 %.3g (worst row %.3g)%n", set.name(), name, finalErr, worst);
        assertThat(finalErr).isLessThanOrEqualTo(ROW_TOLERANCE);
        assertThat(worst).isLessThanOrEqualTo(ROW_TOLERANCE);
    }

    /** index.json's full effective config (every key written out) builds the same sampler as the bare model file. */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void fullEffectiveConfigGivesTheSameSchedule(GoldenSet set, String name) {
        JsonNode c = set.goldenCase("scheduler_" + name);
        Scheduler fromFile = Schedulers.create(name, modelConfig(set), false, 0f);
        Scheduler fromEffective = Schedulers.create(name, c.get("config"), false, 0f);
        fromFile.setTimesteps(20);
        fromEffective.setTimesteps(20);
        assertThat(fromEffective.timesteps()).containsExactly(fromFile.timesteps());
        assertThat(fromEffective.initNoiseSigma()).isEqualTo(fromFile.initNoiseSigma());
    }
}
