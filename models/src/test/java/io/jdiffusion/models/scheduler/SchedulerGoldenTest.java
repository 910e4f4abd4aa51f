package io.jdiffusion.models.scheduler;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jdiffusion.core.Numerics;
import io.jdiffusion.core.safetensors.SafetensorsFile;
import io.jdiffusion.models.rng.TorchGenerator;
import io.jdiffusion.testdata.TinySd;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every sampler against diffusers 0.40 (golden cases {@code scheduler_*}): the scheduler made from SD 1.5's
 * PNDM config file as {@code X.from_config} makes it, 20 steps on a [1,4,8,8] sample, with the model
 * output of each call given (randn seeded 1000 + i).
 */
class SchedulerGoldenTest {
    static final double ROW_TOLERANCE = 1e-5;

    static JsonNode modelConfig() {
        try {
            return new ObjectMapper().readTree(TinySd.modelDir().resolve("scheduler/scheduler_config.json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The rows of one golden tensor, [calls][elements]. */
    static float[][] rows(JsonNode c, String role) {
        try (SafetensorsFile f = TinySd.golden("schedulers.safetensors")) {
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

    static float[] flat(JsonNode c, String role) {
        try (SafetensorsFile f = TinySd.golden("schedulers.safetensors")) {
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

    @Test
    void noiseScheduleIsBitExact() {
        JsonNode c = TinySd.goldenCase("scheduler_common");
        NoiseSchedule schedule = NoiseSchedule.fromConfig(new SchedulerConfig(modelConfig()), NoiseSchedule.ZeroSnr.IGNORED);
        assertThat(schedule.betas()).containsExactly(flat(c, "betas"));
        assertThat(schedule.alphasCumprod()).containsExactly(flat(c, "alphas_cumprod"));
    }

    /**
     * Step by step: each call starts from the golden sample of the previous call, so an error in one step
     * cannot hide behind another. Multistep state is built from those same samples.
     */
    @ParameterizedTest
    @ValueSource(strings = {"pndm", "ddim", "euler", "euler_a", "dpmpp_2m", "lms"})
    void everyCallMatchesDiffusers(String name) {
        JsonNode c = TinySd.goldenCase("scheduler_" + name);
        Scheduler scheduler = Schedulers.create(name, modelConfig(), false, 0f);
        scheduler.setTimesteps(c.get("num_inference_steps").asInt());

        float[] timesteps = scheduler.timesteps();
        float[] goldenTimesteps = flat(c, "timesteps");
        assertThat(timesteps).as("timesteps").containsExactly(goldenTimesteps);
        for (int i = 0; i < timesteps.length; i++) {
            assertThat(timesteps[i]).isEqualTo(c.get("timesteps_list").get(i).floatValue());
        }
        if (c.get("tensors").has("sigmas")) {
            float[] sigmas = scheduler instanceof SigmaSpaceScheduler s ? s.sigmas()
                    : ((DpmSolverMultistepScheduler) scheduler).sigmas();
            assertThat(sigmas).as("sigmas").containsExactly(flat(c, "sigmas"));
        }
        assertThat(scheduler.initNoiseSigma()).isEqualTo(c.get("init_noise_sigma").floatValue());
        assertThat(scheduler.orderOfCalls()).isEqualTo(c.get("order").asInt());

        float[][] modelInput = rows(c, "model_input");
        float[][] modelOutput = rows(c, "model_output");
        float[][] prevSample = rows(c, "prev_sample");
        float[][] predOriginal = c.get("tensors").has("pred_original_sample") ? rows(c, "pred_original_sample") : null;
        float[][] noise = c.get("tensors").has("noise") ? rows(c, "noise") : null;
        float[] xT = flat(c, "x_T");
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
        System.out.printf("scheduler_%s per call, max relative L2: model_input %.3g, prev_sample %.3g, pred_original %s%n",
                name, worst[0], worst[1], predOriginal == null ? "n/a" : String.format("%.3g", worst[2]));
    }

    /** The whole chain from x_T with the scheduler's own samples, as a pipeline runs it. */
    @ParameterizedTest
    @ValueSource(strings = {"pndm", "ddim", "euler", "euler_a", "dpmpp_2m", "lms"})
    void wholeChainMatchesDiffusers(String name) {
        JsonNode c = TinySd.goldenCase("scheduler_" + name);
        Scheduler scheduler = Schedulers.create(name, modelConfig(), false, 0f);
        scheduler.setTimesteps(20);
        float[][] modelOutput = rows(c, "model_output");
        float[][] prevSample = rows(c, "prev_sample");
        TorchGenerator generator = new TorchGenerator(4321);
        float[] sample = scaled(flat(c, "x_T"), scheduler.initNoiseSigma());
        double worst = 0;
        for (int i = 0; i < modelOutput.length; i++) {
            sample = scheduler.step(modelOutput[i], i, sample, generator);
            worst = Math.max(worst, Numerics.relativeL2(sample, prevSample[i]));
        }
        double finalErr = Numerics.relativeL2(sample, prevSample[prevSample.length - 1]);
        System.out.printf("scheduler_%s whole chain: final prev_sample relative L2 %.3g (worst row %.3g)%n", name, finalErr, worst);
        assertThat(finalErr).isLessThanOrEqualTo(ROW_TOLERANCE);
        assertThat(worst).isLessThanOrEqualTo(ROW_TOLERANCE);
    }

    /** index.json's full effective config (every key written out) builds the same sampler as the bare model file. */
    @ParameterizedTest
    @ValueSource(strings = {"pndm", "ddim", "euler", "euler_a", "dpmpp_2m", "lms"})
    void fullEffectiveConfigGivesTheSameSchedule(String name) {
        JsonNode c = TinySd.goldenCase("scheduler_" + name);
        Scheduler fromFile = Schedulers.create(name, modelConfig(), false, 0f);
        Scheduler fromEffective = Schedulers.create(name, c.get("config"), false, 0f);
        fromFile.setTimesteps(20);
        fromEffective.setTimesteps(20);
        assertThat(fromEffective.timesteps()).containsExactly(fromFile.timesteps());
        assertThat(fromEffective.initNoiseSigma()).isEqualTo(fromFile.initNoiseSigma());
    }
}
