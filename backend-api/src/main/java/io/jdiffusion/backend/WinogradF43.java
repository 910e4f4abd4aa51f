package io.jdiffusion.backend;

/**
 * Winograd F(4x4, 3x3) with the interpolation points 0, 1, -1, 2, -2 and infinity (Lavin and Gray, 2016):
 * a 4x4 output tile of a 3x3 correlation is Y = A^T [ (G g G^T) . (B^T d B) ] A for the 6x6 input patch d and
 * the kernel g. The one definition of the transform matrices and of the kernel transform, shared by every
 * backend's Winograd convolution (backend-cpu's WinogradMatricesTest derives the matrices from the points).
 */
public final class WinogradF43 {
    /** Outputs per tile side. */
    public static final int TILE_OUT = 4;
    /** Inputs per tile side (TILE_OUT + 3 - 1). */
    public static final int TILE_IN = 6;
    /** Transform points per tile: TILE_IN^2. */
    public static final int POINTS = TILE_IN * TILE_IN;

    private static final double[][] BT = {
            {4, 0, -5, 0, 1, 0},
            {0, -4, -4, 1, 1, 0},
            {0, 4, -4, -1, 1, 0},
            {0, -2, -1, 2, 1, 0},
            {0, 2, -1, -2, 1, 0},
            {0, 4, 0, -5, 0, 1}};
    private static final double[][] G = {
            {1 / 4.0, 0, 0},
            {-1 / 6.0, -1 / 6.0, -1 / 6.0},
            {-1 / 6.0, 1 / 6.0, -1 / 6.0},
            {1 / 24.0, 1 / 12.0, 1 / 6.0},
            {1 / 24.0, -1 / 12.0, 1 / 6.0},
            {0, 0, 1}};
    private static final double[][] AT = {
            {1, 1, 1, 1, 1, 0},
            {0, 1, -1, 2, -2, 0},
            {0, 1, 1, 4, 4, 0},
            {0, 1, -1, 8, -8, 1}};

    private WinogradF43() {
    }

    /** B^T (6x6), a fresh copy. */
    public static double[][] bt() {
        return copy(BT);
    }

    /** G (6x3), a fresh copy. */
    public static double[][] g() {
        return copy(G);
    }

    /** A^T (4x6), a fresh copy. */
    public static double[][] at() {
        return copy(AT);
    }

    /**
     * U = G g G^T in double precision for the 3x3 kernel g at {@code g[offset..offset+9)} (row-major), into
     * {@code u[6 i + j]}.
     */
    public static void transformKernel(float[] g, int offset, double[] u) {
        WinogradFilterTransform.apply(G, g, offset, u);
    }

    private static double[][] copy(double[][] m) {
        return WinogradFilterTransform.copy(m);
    }
}
