package io.jdiffusion.models.scheduler;

/**
 * Karras et al. 2022 (EDM, eq. 5) noise levels and diffusers' mapping of a sigma back to a fractional
 * training timestep, both in float64 as diffusers computes them with numpy.
 */
final class KarrasSigmas {
    static final double RHO = 7.0;

    private KarrasSigmas() {
    }

    /**
     * {@code n} sigmas from {@code sigmaMax} down to {@code sigmaMin}, evenly spaced in {@code sigma^(1/rho)}:
     * {@code (max^(1/rho) + ramp * (min^(1/rho) - max^(1/rho)))^rho} with {@code ramp = linspace(0, 1, n)}.
     */
    static double[] sigmas(double sigmaMin, double sigmaMax, int n) {
        double[] ramp = NumpyMath.linspace(0, 1, n);
        double minInvRho = Math.pow(sigmaMin, 1 / RHO);
        double maxInvRho = Math.pow(sigmaMax, 1 / RHO);
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            out[i] = Math.pow(maxInvRho + ramp[i] * (minInvRho - maxInvRho), RHO);
        }
        return out;
    }

    /**
     * diffusers' {@code _sigma_to_t}: the fractional timestep whose log-sigma interpolates linearly between
     * the two training log-sigmas around {@code log(sigma)} ({@code logSigmas} ascending, float32 as numpy
     * holds them; the weight is clipped to [0, 1]).
     */
    static double sigmaToTimestep(double sigma, float[] logSigmas) {
        double logSigma = Math.log(Math.max(sigma, 1e-10));
        int low = 0;
        for (int i = 0; i < logSigmas.length; i++) {
            if (logSigma - logSigmas[i] >= 0) {
                low = i; // the last training log-sigma not above log(sigma)
            }
        }
        low = Math.min(low, logSigmas.length - 2);
        int high = low + 1;
        float lowValue = logSigmas[low];
        float highValue = logSigmas[high];
        double w = (lowValue - logSigma) / (double) (lowValue - highValue); // the denominator is a float32 difference
        w = Math.min(Math.max(w, 0), 1);
        return (1 - w) * low + w * high;
    }

    /** np.log of a float32 array: float32 results. */
    static float[] logOf(float[] sigmas) {
        float[] out = new float[sigmas.length];
        for (int i = 0; i < sigmas.length; i++) {
            out[i] = (float) Math.log(sigmas[i]);
        }
        return out;
    }
}
