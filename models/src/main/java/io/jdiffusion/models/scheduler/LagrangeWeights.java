package io.jdiffusion.models.scheduler;

/**
 * Integrals of Lagrange basis polynomials, the weights of a linear multistep method on a non-uniform grid.
 * The basis polynomial of node j over m nodes has degree m - 1, so Gauss-Legendre quadrature with
 * {@code ceil(m / 2)} points integrates it exactly; this uses 4 points (exact up to degree 7, m <= 8).
 * diffusers evaluates the same integrals with scipy's adaptive quad (relative tolerance 1e-4, in practice
 * exact to rounding because its first 21-point Gauss-Kronrod rule is already exact).
 */
final class LagrangeWeights {
    private static final double[] NODES;
    private static final double[] WEIGHTS;

    static {
        double a = Math.sqrt(3.0 / 7 - 2.0 / 7 * Math.sqrt(6.0 / 5));
        double b = Math.sqrt(3.0 / 7 + 2.0 / 7 * Math.sqrt(6.0 / 5));
        double wa = (18 + Math.sqrt(30)) / 36;
        double wb = (18 - Math.sqrt(30)) / 36;
        NODES = new double[] {-b, -a, a, b};
        WEIGHTS = new double[] {wb, wa, wa, wb};
    }

    private LagrangeWeights() {
    }

    /** The integral from {@code from} to {@code to} of the basis polynomial that is 1 at {@code nodes[j]} and 0 at the others. */
    static double integral(double[] nodes, int j, double from, double to) {
        if (nodes.length > 2 * NODES.length) {
            throw new IllegalArgumentException("at most " + 2 * NODES.length + " nodes, got " + nodes.length);
        }
        double half = (to - from) / 2;
        double mid = (to + from) / 2;
        double sum = 0;
        for (int q = 0; q < NODES.length; q++) {
            sum += WEIGHTS[q] * basis(nodes, j, mid + half * NODES[q]);
        }
        return sum * half;
    }

    private static double basis(double[] nodes, int j, double tau) {
        double product = 1;
        for (int k = 0; k < nodes.length; k++) {
            if (k != j) {
                product *= (tau - nodes[k]) / (nodes[j] - nodes[k]);
            }
        }
        return product;
    }
}
