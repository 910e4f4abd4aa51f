package io.jdiffusion.cpu;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * How {@link WinogradConv#chunkRows} cuts a layer's tile rows, at the vector width the run has ({@link Gemm#NR}
 * columns a panel): SD's chunks hold whole panels, no layer takes more chunks than the budget alone gives, and no
 * chunk holds more than twice the rows the budget does.
 */
class WinogradChunkRowsTest {
    private static final long BUDGET = WinogradConv.CHUNK_FLOATS;

    /** SD 1.5's 3x3 layers at 256x256 and 512x512, batch 2: {tile rows of the batch, tiles a row, floats a row}. */
    private static final long[][] SD_LAYERS = {
            {8, 4, 36L * 1920 * 4}, // 16x16 1920 -> 640, F(4x4): 7 rows in the budget, so half a panel a chunk before
            {16, 8, 36L * 960 * 8}, // 32x32 960 -> 320, F(4x4): 7 rows, so three chunks of one and a half panels before
            {8, 4, 36L * 2560 * 4}, // 16x16 2560 -> 1280 at 512x512's third level, F(4x4)
            {16, 8, 36L * 640 * 8}, // 32x32 640 -> 320
            {8, 4, 16L * 2560 * 4}, // 8x8 2560 -> 1280, F(2x2)
            {32, 16, 36L * 320 * 16}, // 64x64 320 -> 320 at 512x512: 11 rows, 5.5 panels
            {32, 16, 36L * 640 * 16}, // 64x64 640 -> 640: 5 rows, 2.5 panels
            {32, 16, 36L * 960 * 16}, // 64x64 960 -> 320: 3 rows, 1.5 panels
    };

    @Test
    void sdLayersChunksHoldWholePanels() {
        for (long[] layer : SD_LAYERS) {
            int allRows = (int) layer[0], tilesX = (int) layer[1];
            int rows = WinogradConv.chunkRows(allRows, tilesX, layer[2], BUDGET);
            assertThat(rows).isBetween(1, allRows);
            if (rows < allRows) {
                assertThat(rows * tilesX % Gemm.NR).as("tiles of a chunk of %d rows of %d", rows, tilesX).isZero();
            } else {
                assertThat(allRows * tilesX % Gemm.NR).isZero();
            }
        }
    }

    @Test
    void noLayerTakesMoreChunksThanTheBudgetAloneAndNoChunkTwiceItsRows() {
        for (int tilesX = 1; tilesX <= 130; tilesX++) {
            for (int allRows = 1; allRows <= 64; allRows++) {
                for (long rowFloats : new long[] {36L * 320 * tilesX, 36L * 1920 * tilesX, 16L * 2560 * tilesX, 36L * 3 * tilesX}) {
                    int byBudget = (int) Math.max(1, Math.min(allRows, BUDGET / rowFloats));
                    int rows = WinogradConv.chunkRows(allRows, tilesX, rowFloats, BUDGET);
                    assertThat(rows).isBetween(1, allRows);
                    assertThat(chunks(allRows, rows)).as("rows %d, tiles a row %d", allRows, tilesX)
                            .isLessThanOrEqualTo(chunks(allRows, byBudget));
                    assertThat(rows).isLessThanOrEqualTo(2 * byBudget);
                }
            }
        }
    }

    @Test
    void wideRowsAreCutByTheBudgetAlone() {
        // the VAE's 512x512 layers of 128 channels: 128 tiles a row, far past a panel
        long rowFloats = 36L * 128 * 128;
        assertThat(WinogradConv.chunkRows(128, 128, rowFloats, BUDGET)).isEqualTo((int) (BUDGET / rowFloats));
    }

    private static int chunks(int allRows, int rows) {
        return (allRows + rows - 1) / rows;
    }
}
