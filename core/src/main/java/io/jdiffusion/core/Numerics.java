package io.jdiffusion.core;

/** Error measures used by tests, benchmarks and backend cross-checks. */
public final class Numerics {
    private Numerics() {
    }

    /**
     * ||actual - expected||_2 / ||expected||_2 in double precision. A NaN or infinity in {@code actual}
     * gives +infinity, so an unwritten (NaN-poisoned) element can never pass a tolerance.
     */
    public static double relativeL2(float[] actual, double[] expected) {
        if (actual.length != expected.length) {
            throw new IllegalArgumentException("lengths differ: " + actual.length + " vs " + expected.length);
        }
        double num = 0;
        double den = 0;
        for (int i = 0; i < actual.length; i++) {
            if (!Float.isFinite(actual[i])) {
                return Double.POSITIVE_INFINITY;
            }
            double d = actual[i] - expected[i];
            num += d * d;
            den += expected[i] * expected[i];
        }
        return den == 0 ? (num == 0 ? 0 : Double.POSITIVE_INFINITY) : Math.sqrt(num / den);
    }

    public static double relativeL2(float[] actual, float[] expected) {
        double[] e = new double[expected.length];
        for (int i = 0; i < e.length; i++) {
            e[i] = expected[i];
        }
        return relativeL2(actual, e);
    }

    public static double relativeL2(Tensor actual, Tensor expected) {
        if (!actual.shape().equals(expected.shape())) {
            throw new IllegalArgumentException("shapes differ: " + actual.shape() + " vs " + expected.shape());
        }
        return relativeL2(actual.toFloatArray(), expected.toFloatArray());
    }
}
