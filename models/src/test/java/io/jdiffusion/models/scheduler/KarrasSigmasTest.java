package io.jdiffusion.models.scheduler;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Karras sigmas (use_karras_sigmas) against the EDM formula evaluated here in float64. */
class KarrasSigmasTest {

    /**
     * SD 1.5's training sigmas as diffusers holds them (float32; the noise schedule itself is checked bit
     * for bit against the goldens elsewhere), widened to double for the reference formula.
     */
    private static double[] trainingSigmas() {
        float[] f = NoiseSchedule.fromConfig(new SchedulerConfig(SchedulerGoldenTest.modelConfig()),
                NoiseSchedule.ZeroSnr.IGNORED).trainingSigmas();
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    @ParameterizedTest
    @ValueSource(strings = {"euler", "euler_a", "dpmpp_2m", "lms"})
    void sigmasFollowTheEdmRampAndTimestepsMapBack(String name) {
        int steps = 20;
        Scheduler scheduler = Schedulers.create(name, SchedulerGoldenTest.modelConfig(), true, 0f);
        scheduler.setTimesteps(steps);
        float[] sigmas = scheduler instanceof SigmaSpaceScheduler s ? s.sigmas()
                : ((DpmSolverMultistepScheduler) scheduler).sigmas();
        float[] timesteps = scheduler.timesteps();
        assertThat(sigmas).hasSize(steps + 1);
        assertThat(timesteps).hasSize(steps);
        assertThat(sigmas[steps]).isZero();

        double[] training = trainingSigmas();
        double sigmaMin = training[0];
        double sigmaMax = training[999];
        double rho = 7;
        for (int i = 0; i < steps; i++) {
            double ramp = i / (double) (steps - 1);
            double expected = Math.pow(Math.pow(sigmaMax, 1 / rho) + ramp * (Math.pow(sigmaMin, 1 / rho)
                    - Math.pow(sigmaMax, 1 / rho)), rho);
            assertThat((double) sigmas[i]).as("%s sigma %d", name, i).isCloseTo(expected, within(2e-6 * expected));
            // the timestep is where log(sigma) falls on the training log-sigmas (rounded to integers for DPM++)
            double t = fractionalTimestep(Math.log(expected), training);
            double allowed = name.equals("dpmpp_2m") ? 0.5 + 1e-3 : 1e-3;
            assertThat((double) timesteps[i]).as("%s timestep %d", name, i).isCloseTo(t, within(allowed));
            if (i > 0) {
                assertThat(timesteps[i]).isLessThanOrEqualTo(timesteps[i - 1]);
            }
        }
        assertThat(timesteps[0]).isCloseTo(999f, within(1e-3f));
        assertThat(timesteps[steps - 1]).isCloseTo(0f, within(1e-3f));
        if (name.equals("euler") || name.equals("euler_a") || name.equals("lms")) {
            assertThat(scheduler.initNoiseSigma()).isEqualTo(sigmas[0]);
        }
    }

    private static double fractionalTimestep(double logSigma, double[] training) {
        for (int t = 0; t < training.length - 1; t++) {
            double lo = Math.log(training[t]);
            double hi = Math.log(training[t + 1]);
            if (logSigma >= lo && logSigma <= hi) {
                return t + (logSigma - lo) / (hi - lo);
            }
        }
        return logSigma < Math.log(training[0]) ? 0 : training.length - 1;
    }

    /** Karras changes only the sigmas: on a given model output, one Euler step still lands at x0 + sigma_next / sigma (x - x0). */
    @Test
    void karrasEulerStepIsAnEulerStep() {
        Scheduler scheduler = Schedulers.create("euler", SchedulerGoldenTest.modelConfig(), true, 0f);
        scheduler.setTimesteps(10);
        float[] sigmas = ((SigmaSpaceScheduler) scheduler).sigmas();
        float[] x = {1f, -2f, 3f, 0.5f};
        float[] eps = {0.1f, 0.2f, -0.3f, 0.4f};
        float[] next = scheduler.step(eps, 3, x, null);
        for (int i = 0; i < x.length; i++) {
            double x0 = x[i] - sigmas[3] * (double) eps[i];
            assertThat((double) next[i]).isCloseTo(x0 + sigmas[4] / (double) sigmas[3] * (x[i] - x0), within(1e-5));
        }
    }
}
