package io.jdiffusion.models.scheduler;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Locale;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The samplers without diffusers goldens, checked by their order of convergence on a problem with a known
 * answer ({@link GaussianChain}: Gaussian data, the exact denoiser as the model). The error is that of the
 * mean and variance of the sample that reaches the last UNet call, against the exact marginal at its
 * noise level; the order is {@code log2(error(n) / error(2n))}, measured between 40, 80 and 160 steps.
 *
 * <p>Expected orders: Heun and DPM2 2 (Karras et al. 2022), DPM++ 2M and DPM++ 2M SDE 2 (Lu et al. 2022),
 * UniPC 3 (order 2 plus one from the UniC corrector, Zhao et al. 2023), DDPM weak order 1 (ancestral
 * sampling of the posterior; still near 0.8 at 160 steps), and the ancestral two-stage samplers DPM2 a
 * and DPM++ 2S a at least weak order 1, measured 2 here (for Gaussian data the ancestral noise split is
 * exact in distribution, so the deterministic solver's order shows). The log-SNR solvers and the two-stage
 * samplers are measured on the Karras or exponential schedules: on SD's default linspace timesteps the
 * last log-SNR steps do not shrink with n (t = 2 dt to dt is always log 2 / 2), which caps every solver's
 * accuracy there; Euler and DDIM converge at order 1 on any schedule.
 */
class SamplerConvergenceTest {
    private static final int[] STEPS = {40, 80, 160};

    private static double[] errors(Sampler sampler, Schedule schedule, GaussianChain.Model model) {
        double[] out = new double[STEPS.length];
        for (int i = 0; i < STEPS.length; i++) {
            Scheduler s = sampler.create(SchedulerGoldenTest.modelConfig(), schedule, 0f);
            out[i] = GaussianChain.run(s, STEPS[i], model).beforeLastCall().error();
        }
        return out;
    }

    @ParameterizedTest(name = "{0} {1}: order {2}")
    @CsvSource({
            "euler, default, 1.0",
            "ddim, default, 1.0",
            "heun, karras, 2.0", "heun, exponential, 2.0", "heun, sgm_uniform, 2.0",
            "dpm2, karras, 2.0", "dpm2_a, karras, 2.0",
            "dpmpp_2s_a, karras, 2.0",
            "dpmpp_2m, karras, 2.0", "dpmpp_2m, exponential, 2.0",
            "dpmpp_2m_sde, karras, 2.0", "dpmpp_2m_sde, exponential, 2.0",
            "unipc, karras, 3.0", "unipc, exponential, 3.0",
            "ddpm, default, 0.8", "euler_a, karras, 1.0"})
    void convergesAtItsPublishedOrder(String name, String scheduleName, double order) {
        Sampler sampler = Sampler.parse(name).sampler();
        double[] e = errors(sampler, Schedule.parse(scheduleName), GaussianChain.Model.DENOISER);
        double p1 = Math.log(e[0] / e[1]) / Math.log(2);
        double p2 = Math.log(e[1] / e[2]) / Math.log(2);
        System.out.printf(Locale.ROOT, "ORDER %-12s %-11s errors %.3e %.3e %.3e  orders %.2f %.2f%n", name, scheduleName,
                e[0], e[1], e[2], p1, p2);
        assertThat(p1).as("%s %s order between %d and %d steps", name, scheduleName, STEPS[0], STEPS[1])
                .isGreaterThan(order - 0.3);
        assertThat(p2).as("%s %s order between %d and %d steps", name, scheduleName, STEPS[1], STEPS[2])
                .isGreaterThan(order - 0.25);
    }

    /**
     * LCM is no ODE solver: it assumes a model distilled to the consistency function, which maps any noisy
     * sample straight to the end of its ODE trajectory. Given that exact function, every number of steps
     * must land on the data distribution.
     */
    @Test
    void lcmIsExactWithTheExactConsistencyFunction() {
        for (int steps : new int[] {1, 2, 4, 8, 50}) {
            GaussianChain.Result r = GaussianChain.run(Sampler.LCM.create(SchedulerGoldenTest.modelConfig(), Schedule.DEFAULT, 0f),
                    steps, GaussianChain.Model.CONSISTENCY);
            assertThat(r.end().error()).as("lcm %d steps: %s", steps, GaussianChain.describe(r)).isLessThan(1e-5);
            assertThat(r.draws()).as("lcm draws noise between steps").isEqualTo(steps - 1);
        }
    }

    /** The stochastic samplers draw the noise they are known to draw, and the deterministic ones none. */
    @Test
    void noiseDrawsPerChain() {
        int n = 10;
        for (Sampler s : Sampler.values()) {
            float eta = 0f;
            GaussianChain.Result r = GaussianChain.run(s.create(SchedulerGoldenTest.modelConfig(), Schedule.DEFAULT, eta), n,
                    s == Sampler.LCM ? GaussianChain.Model.CONSISTENCY : GaussianChain.Model.DENOISER);
            int expected = switch (s) {
                case EULER_A, DPMPP_2M_SDE, DDPM -> n;
                case DPM2_A, DPMPP_2S_A, LCM -> n - 1;
                default -> 0;
            };
            assertThat(r.draws()).as(s.cliName()).isEqualTo(expected);
            assertThat(s.stochastic()).as(s.cliName()).isEqualTo(expected > 0);
            int calls = switch (s) {
                case HEUN, DPM2, DPM2_A, DPMPP_2S_A -> 2 * n - 1;
                case PNDM -> n + 1;
                default -> n;
            };
            assertThat(r.calls()).as(s.cliName() + " calls").isEqualTo(calls);
        }
    }
}
