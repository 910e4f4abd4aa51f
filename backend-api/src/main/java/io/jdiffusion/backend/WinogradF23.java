package io.jdiffusion.backend;

/**
 * Winograd F(2x2, 3x3) with the interpolation points 0, 1, -1 and infinity (Lavin and Gray, 2016): a 2x2 output
 * tile of a 3x3 correlation is Y = A^T [ (G g G^T) . (B^T d B) ] A for the 4x4 input patch d and the kernel g.
 * 16 multiplications per tile instead of 36 direct ones (2.25x fewer; F(4x4)'s 36 per 4x4 tile make 4x fewer),
 * with small exact coefficients: for layers too small to fill F(4x4)'s GEMMs with tiles. The derivation is
 * {@code WinogradF43}'s with fewer points ({@code WinogradF23Test} checks these constants against it), except that
 * row 0 of both B^T and G is negated (the derivation's 1/N_0 is -1; the two signs cancel in the product), so that
 * G's first row is (1, 0, 0): a filter transformed as the layer runs reads that row's taps as they are.
 */
public final class WinogradF23 {
    /** Outputs per tile side. */
    public static final int TILE_OUT = 2;
    /** Inputs per tile side (TILE_OUT + 3 - 1). */
    public static final int TILE_IN = 4;
    /** Transform points per tile: TILE_IN^2. */
    public static final int POINTS = TILE_IN * TILE_IN;

    private static final double[][] BT = {
            {1, 0, -1, 0},
            {0, 1, 1, 0},
            {0, -1, 1, 0},
            {0, -1, 0, 1}};
    private static final double[][] G = {
            {1, 0, 0},
            {1 / 2.0, 1 / 2.0, 1 / 2.0},
            {1 / 2.0, -1 / 2.0, 1 / 2.0},
            {0, 0, 1}};
    private static final double[][] AT = {
            {1, 1, 1, 0},
            {0, 1, -1, 1}};

    private WinogradF23() {
    }

    /** B^T (4x4), a fresh copy. */
    public static double[][] bt() {
        return WinogradFilterTransform.copy(BT);
    }

    /** G (4x3), a fresh copy. */
    public static double[][] g() {
        return WinogradFilterTransform.copy(G);
    }

    /** A^T (2x4), a fresh copy. */
    public static double[][] at() {
        return WinogradFilterTransform.copy(AT);
    }

    /**
     * U = G g G^T in double precision for the 3x3 kernel g at {@code g[offset..offset+9)} (row-major), into
     * {@code u[4 i + j]}.
     */
    public static void transformKernel(float[] g, int offset, double[] u) {
        WinogradFilterTransform.apply(G, g, offset, u);
    }
}
