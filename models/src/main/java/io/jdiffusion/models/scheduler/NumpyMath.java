package io.jdiffusion.models.scheduler;

/**
 * The few numpy routines diffusers computes timesteps and sigmas with, in numpy's float64 arithmetic,
 * so that rounding ties (499.5 -> 500) and interpolated sigmas come out as in Python.
 */
final class NumpyMath {
    private NumpyMath() {
    }

    /** {@code np.linspace(start, stop, num)}: {@code i * step + start}, the last value exactly {@code stop}. */
    static double[] linspace(double start, double stop, int num) {
        if (num < 1) {
            throw new IllegalArgumentException("linspace needs num >= 1, got " + num);
        }
        double[] y = new double[num];
        if (num == 1) {
            y[0] = start;
            return y;
        }
        double delta = stop - start;
        double step = delta / (num - 1);
        for (int i = 0; i < num; i++) {
            y[i] = step == 0 ? (i / (double) (num - 1)) * delta + start : i * step + start;
        }
        y[num - 1] = stop;
        return y;
    }

    /**
     * {@code np.arange(start, stop, step)} for floats: {@code ceil((stop - start) / step)} values; numpy fills
     * them as {@code start + i * delta} with {@code delta = (start + step) - start}, which may differ from
     * {@code step} in the last bit.
     */
    static double[] arange(double start, double stop, double step) {
        int length = (int) Math.max(0, Math.ceil((stop - start) / step));
        double[] y = new double[length];
        if (length == 0) {
            return y;
        }
        y[0] = start;
        if (length > 1) {
            y[1] = start + step;
            double delta = y[1] - y[0];
            for (int i = 2; i < length; i++) {
                y[i] = start + i * delta;
            }
        }
        return y;
    }

    /** {@code np.round}: round half to even. */
    static double round(double x) {
        return Math.rint(x);
    }

    /**
     * {@code np.interp(x, arange(fp.length), fp)}: linear interpolation on the integer grid, clamped to the
     * end values, computed as numpy does ({@code slope * (x - xp[j]) + fp[j]}, exact at grid points).
     */
    static double[] interpOnIntegerGrid(double[] x, float[] fp) {
        double[] out = new double[x.length];
        int last = fp.length - 1;
        for (int i = 0; i < x.length; i++) {
            double xv = x[i];
            if (Double.isNaN(xv)) {
                out[i] = xv;
            } else if (xv >= last) {
                out[i] = fp[last];
            } else if (xv < 0) {
                out[i] = fp[0];
            } else {
                int j = (int) Math.floor(xv);
                if (xv == j) {
                    out[i] = fp[j];
                } else {
                    double slope = ((double) fp[j + 1] - fp[j]) / ((j + 1) - (double) j);
                    out[i] = slope * (xv - j) + fp[j];
                }
            }
        }
        return out;
    }
}
