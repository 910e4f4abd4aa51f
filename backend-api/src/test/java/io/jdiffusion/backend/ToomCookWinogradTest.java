package io.jdiffusion.backend;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static io.jdiffusion.backend.testing.SmallMatrices.multiply;
import static io.jdiffusion.backend.testing.SmallMatrices.transpose;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * Derives the F(m, 3) Winograd matrices by Toom-Cook from a subclass's points (and infinity) and checks its
 * constants against them, then checks that the 1-D and 2-D algorithms compute a
 * correlation exactly (in double precision) on random data.
 *
 * <p>Derivation. Linear convolution of a filter g (degree r-1) and data h (degree m-1) is the product
 * polynomial s = g h of degree n-1, n = m + r - 1: evaluate both at the n-1 finite points p_j, multiply,
 * and interpolate, with the point at infinity supplying the leading coefficient s_{n-1} = g_{r-1} h_{m-1}.
 * Writing s(x) = s_{n-1} M(x) + sum_j s(p_j) M_j(x) / N_j with M(x) = prod_l (x - p_l),
 * M_j(x) = prod_{l != j} (x - p_l), N_j = M_j(p_j): s = C [(G g) . (H h)] with H[j][i] = p_j^i,
 * G[j][k] = p_j^k / N_j (the 1/N_j moved out of C), C's column j = coefficients of M_j and the last column
 * those of M. The correlation y_i = sum_k g_k d_{i+k} is the transpose of that algorithm:
 * y = H^T [(G g) . (C^T d)], so A^T = H^T and B^T = C^T; the point at infinity adds the row/column that
 * picks the leading coefficient.
 */
abstract class ToomCookWinogradTest {
    private static final int R = 3;
    private final double[] points;
    private final int m;
    private final int n;

    /** The finite points (the point at infinity comes last) and the output tile size m. */
    ToomCookWinogradTest(double[] points, int m) {
        this.points = points.clone();
        this.m = m;
        this.n = m + R - 1;
    }

    abstract double[][] at();

    abstract double[][] g();

    abstract double[][] bt();

    abstract void transformKernel(float[] g, int offset, double[] u);

    @Test
    void theMatricesAreTheToomCookMatricesOfTheChosenPoints() {
        double[][] at = new double[m][n];
        double[][] g = new double[n][R];
        double[][] bt = new double[n][n];
        for (int j = 0; j < n - 1; j++) {
            double p = points[j];
            double nj = 1;
            double[] mj = {1}; // coefficients of M_j, lowest power first
            for (int l = 0; l < n - 1; l++) {
                if (l != j) {
                    nj *= p - points[l];
                    mj = timesLinear(mj, points[l]);
                }
            }
            for (int i = 0; i < m; i++) {
                at[i][j] = Math.pow(p, i);
            }
            for (int k = 0; k < R; k++) {
                g[j][k] = Math.pow(p, k) / nj;
            }
            bt[j] = mj.clone();
        }
        at[m - 1][n - 1] = 1;
        g[n - 1][R - 1] = 1;
        double[] full = {1};
        for (double p : points) {
            full = timesLinear(full, p);
        }
        bt[n - 1] = full;
        assertSame(at, at());
        // A row j of G and the same row of B^T may both be negated: the element-wise product is unchanged.
        double[][] constantG = g();
        for (int j = 0; j < n; j++) {
            if (Math.signum(dot(constantG[j], g[j])) < 0) {
                g[j] = negate(g[j]);
                bt[j] = negate(bt[j]);
            }
        }
        assertSame(g, constantG);
        assertSame(bt, bt());
    }

    @Test
    void oneAndTwoDimensionalTransformsComputeCorrelationExactly() {
        SplittableRandom r = new SplittableRandom();
        double[][] d = new double[n][n];
        double[][] w = new double[R][R];
        for (double[] row : d) {
            for (int i = 0; i < n; i++) {
                row[i] = r.nextDouble(-1, 1);
            }
        }
        for (double[] row : w) {
            for (int i = 0; i < R; i++) {
                row[i] = r.nextDouble(-1, 1);
            }
        }
        double[][] gm = g();
        double[][] u = multiply(multiply(gm, w), transpose(gm));
        double[][] bt = bt();
        double[][] v = multiply(multiply(bt, d), transpose(bt));
        double[][] prod = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                prod[i][j] = u[i][j] * v[i][j];
            }
        }
        double[][] at = at();
        double[][] y = multiply(multiply(at, prod), transpose(at));
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < m; j++) {
                double direct = 0;
                for (int ky = 0; ky < R; ky++) {
                    for (int kx = 0; kx < R; kx++) {
                        direct += w[ky][kx] * d[i + ky][j + kx];
                    }
                }
                assertThat(y[i][j]).isCloseTo(direct, within(1e-12));
            }
        }
    }

    @Test
    void transformKernelIsGgGTransposed() {
        SplittableRandom r = new SplittableRandom();
        float[] g = new float[11];
        double[][] w = new double[R][R];
        for (int k = 0; k < 9; k++) {
            g[2 + k] = (float) r.nextDouble(-1, 1);
            w[k / 3][k % 3] = g[2 + k];
        }
        double[] u = new double[n * n];
        transformKernel(g, 2, u);
        double[][] gm = g();
        double[][] expected = multiply(multiply(gm, w), transpose(gm));
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                assertThat(u[i * n + j]).as("[%d][%d]", i, j).isCloseTo(expected[i][j], within(1e-15));
            }
        }
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    private static double[] negate(double[] a) {
        double[] r = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = -a[i];
        }
        return r;
    }

    /** (coefficients of q) * (x - p). */
    private static double[] timesLinear(double[] q, double p) {
        double[] out = new double[q.length + 1];
        for (int i = 0; i < q.length; i++) {
            out[i + 1] += q[i];
            out[i] -= p * q[i];
        }
        return out;
    }

    private static void assertSame(double[][] derived, double[][] constant) {
        assertThat(constant.length).isEqualTo(derived.length);
        for (int i = 0; i < derived.length; i++) {
            for (int j = 0; j < derived[i].length; j++) {
                assertThat(constant[i][j]).as("[%d][%d]", i, j).isCloseTo(derived[i][j], within(1e-15));
            }
        }
    }
}
