package io.jdiffusion.cpu;

import io.jdiffusion.backend.WinogradF23;
import io.jdiffusion.backend.WinogradF43;

/**
 * The Winograd tile sizes the CPU backend runs a 3x3 stride-1 convolution with, chosen per layer by
 * {@link WinogradSelection}: F(4x4, 3x3) does 4x fewer multiplications than the direct form but needs many
 * 4x4 tiles to fill its GEMMs; F(2x2, 3x3) does 2.25x fewer, with four times the tiles of the same image.
 */
enum WinogradTile {
    /** F(2x2, 3x3): 4x4 input tiles, 16 GEMMs. */
    F2(WinogradF23.TILE_OUT, WinogradF23.g(), new WinogradF23Transforms(), WeightForm.Kind.WINOGRAD_F2_A),
    /** F(4x4, 3x3): 6x6 input tiles, 36 GEMMs. */
    F4(WinogradF43.TILE_OUT, WinogradF43.g(), new WinogradF43Transforms(), WeightForm.Kind.WINOGRAD_F4_A);

    /** Outputs per tile side. */
    final int out;
    /** Inputs per tile side: out + 2. */
    final int in;
    /** Transform positions, one GEMM each: in * in. */
    final int positions;
    /** G's rows as floats, for filters transformed as the layer runs. */
    final float[][] g;
    final WinogradTransforms transforms;
    /** The weight form of this size's kept filters (their shape differs per size, so their cache key does). */
    final WeightForm.Kind keptForm;

    WinogradTile(int out, double[][] g, WinogradTransforms transforms, WeightForm.Kind keptForm) {
        this.out = out;
        this.in = out + 2;
        this.positions = in * in;
        this.g = new float[g.length][];
        for (int r = 0; r < g.length; r++) {
            this.g[r] = new float[g[r].length];
            for (int c = 0; c < g[r].length; c++) {
                this.g[r][c] = (float) g[r][c];
            }
        }
        this.transforms = transforms;
        this.keptForm = keptForm;
    }

    /** Tiles of one image's {@code ho} x {@code wo} output. */
    long tiles(int ho, int wo) {
        return (long) ((ho + out - 1) / out) * ((wo + out - 1) / out);
    }
}
