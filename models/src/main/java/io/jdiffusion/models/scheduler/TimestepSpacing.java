package io.jdiffusion.models.scheduler;

import java.util.List;
import java.util.Locale;

/**
 * diffusers' {@code timestep_spacing}: how {@code n} inference timesteps are picked from the {@code T}
 * training timesteps (Table 2 of Lin et al., "Common Diffusion Noise Schedules and Sample Steps are
 * Flawed"). All results are in descending order, as the samplers run them.
 * <ul>
 *   <li>{@code leading}: {@code i * (T // n) + steps_offset} (DDIM and PNDM's default; SD 1.5 has offset 1);</li>
 *   <li>{@code trailing}: {@code round(arange(T, 0, -T / n)) - 1};</li>
 *   <li>{@code linspace}: {@code linspace(0, T - 1, n)}, rounded for integer timesteps (the default of
 *       Euler, Euler a, LMS and DPM-Solver).</li>
 * </ul>
 */
enum TimestepSpacing {
    LEADING, TRAILING, LINSPACE;

    static final List<String> NAMES = List.of("leading", "trailing", "linspace");

    static TimestepSpacing fromConfig(SchedulerConfig config, String classDefault) {
        return valueOf(config.choice("timestep_spacing", classDefault, NAMES).toUpperCase(Locale.ROOT));
    }

    /** Integer timesteps (DDIM; PNDM runs them in reverse). */
    long[] integer(int trainSteps, int n, int stepsOffset) {
        double[] values = switch (this) {
            case LINSPACE -> reversed(roundAll(NumpyMath.linspace(0, trainSteps - 1, n)));
            case LEADING -> reversed(leadingRaw(trainSteps / n, n));
            case TRAILING -> trailingRaw(trainSteps, trainSteps / (double) n);
        };
        long[] out = new long[values.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = switch (this) {
                case LEADING -> (long) values[i] + stepsOffset;
                case TRAILING -> (long) values[i] - 1;
                case LINSPACE -> (long) values[i];
            };
        }
        return out;
    }

    /** Float timesteps (Euler, Euler a, LMS): linspace is not rounded; the result is float32 as in numpy. */
    float[] continuous(int trainSteps, int n, int stepsOffset) {
        double[] values = switch (this) {
            case LINSPACE -> reversed(NumpyMath.linspace(0, trainSteps - 1, n));
            case LEADING -> reversed(leadingRaw(trainSteps / n, n));
            case TRAILING -> trailingRaw(trainSteps, trainSteps / (double) n);
        };
        float[] out = new float[values.length];
        for (int i = 0; i < out.length; i++) {
            float v = (float) values[i];
            out[i] = switch (this) {
                case LEADING -> v + stepsOffset;
                case TRAILING -> v - 1f;
                case LINSPACE -> v;
            };
        }
        return out;
    }

    /**
     * DPM-Solver's integer timesteps: {@code n + 1} points of which the last (the smallest) is dropped, up
     * to {@code lastTimestep} (T unless lambda_min_clipped cuts the schedule short).
     */
    long[] dpmSolver(int trainSteps, int lastTimestep, int n, int stepsOffset) {
        return switch (this) {
            case LINSPACE -> {
                double[] v = roundAll(NumpyMath.linspace(0, lastTimestep - 1, n + 1));
                long[] out = new long[n];
                for (int i = 0; i < n; i++) {
                    out[i] = (long) v[n - i];
                }
                yield out;
            }
            case LEADING -> {
                int ratio = lastTimestep / (n + 1);
                long[] out = new long[n];
                for (int i = 0; i < n; i++) {
                    out[i] = (long) (n - i) * ratio + stepsOffset;
                }
                yield out;
            }
            case TRAILING -> {
                // as in diffusers, the count follows numpy's arange: fewer than n when lambda_min_clipped cuts
                double[] v = trailingRaw(lastTimestep, trainSteps / (double) n);
                long[] out = new long[v.length];
                for (int i = 0; i < v.length; i++) {
                    out[i] = (long) v[i] - 1;
                }
                yield out;
            }
        };
    }

    private static double[] leadingRaw(int ratio, int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = (double) i * ratio;
        }
        return v;
    }

    private static double[] trailingRaw(int from, double ratio) {
        return roundAll(NumpyMath.arange(from, 0, -ratio));
    }

    private static double[] roundAll(double[] v) {
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = NumpyMath.round(v[i]);
        }
        return out;
    }

    private static double[] reversed(double[] v) {
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = v[v.length - 1 - i];
        }
        return out;
    }
}
