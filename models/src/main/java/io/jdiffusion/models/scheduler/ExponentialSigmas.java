package io.jdiffusion.models.scheduler;

/** diffusers' {@code _convert_to_exponential}: noise levels evenly spaced in log sigma, in float64 as numpy. */
final class ExponentialSigmas {
    private ExponentialSigmas() {
    }

    /** {@code exp(linspace(log(sigmaMax), log(sigmaMin), n))}. */
    static double[] sigmas(double sigmaMin, double sigmaMax, int n) {
        double[] logs = NumpyMath.linspace(Math.log(sigmaMax), Math.log(sigmaMin), n);
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            out[i] = Math.exp(logs[i]);
        }
        return out;
    }
}
