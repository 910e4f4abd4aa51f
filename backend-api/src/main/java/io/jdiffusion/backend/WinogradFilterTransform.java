package io.jdiffusion.backend;

/** The filter transform U = G g G^T of a Winograd F(m, 3) algorithm, in double precision, for any G (n x 3). */
final class WinogradFilterTransform {
    private WinogradFilterTransform() {
    }

    /** U = G g G^T for the 3x3 kernel g at {@code g[offset..offset+9)} (row-major), into {@code u[n i + j]}. */
    static void apply(double[][] gm, float[] g, int offset, double[] u) {
        int n = gm.length;
        for (int i = 0; i < n; i++) {
            double r0 = gm[i][0] * g[offset] + gm[i][1] * g[offset + 3] + gm[i][2] * g[offset + 6];
            double r1 = gm[i][0] * g[offset + 1] + gm[i][1] * g[offset + 4] + gm[i][2] * g[offset + 7];
            double r2 = gm[i][0] * g[offset + 2] + gm[i][1] * g[offset + 5] + gm[i][2] * g[offset + 8];
            for (int j = 0; j < n; j++) {
                u[i * n + j] = r0 * gm[j][0] + r1 * gm[j][1] + r2 * gm[j][2];
            }
        }
    }

    /** A fresh copy of a small matrix (the public accessors hand out copies, so the constants stay constant). */
    static double[][] copy(double[][] m) {
        double[][] c = new double[m.length][];
        for (int i = 0; i < m.length; i++) {
            c[i] = m[i].clone();
        }
        return c;
    }
}
