package io.jdiffusion.cpu;

import io.jdiffusion.core.Tensor;
import jdk.incubator.vector.FloatVector;

import java.util.Arrays;

import static io.jdiffusion.cpu.CpuVectors.F;
import static io.jdiffusion.cpu.CpuVectors.L;
import static io.jdiffusion.cpu.Gemm.MR;

/**
 * Winograd filters made while the convolution runs instead of kept. Each task takes a few output channels'
 * A panels, widens their weights once, and then, for each row i of the n x n transform positions ({@link
 * WinogradTile}: n = 6 for F(4x4), 4 for F(2x2)), transforms U_ij = (G g G^T)[i][j] for those channels into n A
 * blocks of the thread's scratch (taps and blocks sized to stay in L2) and runs the n GEMMs M_xi = U_xi V_xi
 * (xi = n i + j) against the chunk's transformed input.
 *
 * <p>The kept form holds 4x (F(4x4), 36 per 9) or 1.8x (F(2x2), 16 per 9) the 3x3 weights' values; this one
 * holds the weights themselves, once, tap-major ([cout][9][cin], at the weights' storage precision) so that a
 * vector runs over input channels. Every transformed value is written once and read by the GEMM's {@code tiles}
 * multiply-adds, so the transform matters most at few tiles: at the 32 tiles of F(4x4) of a 16x16 output at batch
 * 2 (1280 channels) a layer took as long as with kept filters, 2.5x less than as im2col, on one core
 * ({@code bench ops --filter "batch 2"}); at the 32 tiles of F(2x2) of an 8x8 output 10-15% more than with kept
 * filters, and at the 16 of batch 1 about 25% more (still 1.15x less than im2col).
 * Transforming all 36 positions of a panel before its GEMMs was 1.4x slower at 2560 input channels: 2.2 MB of
 * blocks per panel leave L2.
 */
final class WinogradFilterStream {
    private static final int TAPS = 9;
    /** Floats of one task's widened taps and n A blocks: 768 KB, in L2 with the B panel the GEMM streams past them. */
    private static final int SCRATCH_FLOATS = 3 << 16;
    /**
     * The blocks lie a cache line more apart than their size: blocks of 6 x 2560 values are 15 pages, and the
     * stores into them would otherwise all fall into the same L1 set (2.5x slower, measured).
     */
    private static final int CACHE_LINE_FLOATS = 16;
    /** Each thread's widened taps of its task's channels, and the n A blocks. */
    private static final ThreadScratch TAPS_SCRATCH = new ThreadScratch();
    private static final ThreadScratch BLOCKS = new ThreadScratch();
    /** Row i of G applied down the kernel's columns (three vectors), then n vectors for a row's partial last one. */
    private static final ThreadScratch COLUMN = new ThreadScratch();

    private WinogradFilterStream() {
    }

    /** Values of the tap-major weights. */
    static long tapMajorSize(int cout, int cin) {
        return (long) TAPS * cout * cin;
    }

    /** Weights [cout][cin][3][3] as [cout][9][cin] into {@code packed}. */
    static PackedWeights packTapMajor(Tensor w, int cout, int cin, PackedWeights packed) {
        float[] row = new float[cin * TAPS];
        float[] taps = new float[cin * TAPS];
        for (int co = 0; co < cout; co++) {
            Packing.readRow(w, co, cin * TAPS, row);
            toTapMajor(row, cin, taps, 0);
            packed.write((long) co * TAPS * cin, taps, 0, TAPS * cin);
        }
        return packed;
    }

    /** One output channel's weights [cin][3][3] from {@code row} as [9][cin] into {@code taps} from {@code at}. */
    private static void toTapMajor(float[] row, int cin, float[] taps, int at) {
        for (int ci = 0; ci < cin; ci++) {
            for (int t = 0; t < TAPS; t++) {
                taps[at + t * cin + ci] = row[ci * TAPS + t];
            }
        }
    }

    /**
     * A panels of output channels per task: as many as keep their widened taps (9 rows of cin per channel) and
     * n A blocks (n of cin) within {@link #SCRATCH_FLOATS}, at least one.
     */
    static int panelsPerTask(WinogradTile tile, int cout, int cin) {
        return Math.max(1, Math.min(Gemm.panelsA(cout), SCRATCH_FLOATS / ((TAPS + tile.in) * MR * cin)));
    }

    /**
     * M_xi = U_xi V_xi for the output channels of A panels [pa0, pa1) and all n^2 positions, n at a time (a row
     * i of the n x n positions, xi = n i + j): the filters of those rows are transformed from {@code taps} first.
     * {@code v} holds the n^2 packed B operands of {@code sizeB} values ({@code bPanels} panels of the chunk's
     * {@code tiles} tiles); M_xi goes to {@code targets[xi]}.
     */
    static void multiply(WinogradTile tile, PackedWeights taps, int cout, int cin, int pa0, int pa1, float[] v, int sizeB, int bPanels,
                         int tiles, GemmOutput[] targets) {
        int side = tile.in;
        int rows = (pa1 - pa0) * MR;
        int channels = Math.min(rows, cout - pa0 * MR);
        int block = rows * cin + CACHE_LINE_FLOATS;
        int tapRow = TAPS * cin + CACHE_LINE_FLOATS;
        float[] u = BLOCKS.floats(side * block);
        // One vector of padding past the last row's taps: a row's last vector may read beyond cin.
        float[] widened = TAPS_SCRATCH.floats(rows * tapRow + L);
        float[] column = COLUMN.floats((3 + side) * L);
        for (int r = 0; r < channels; r++) {
            taps.stage((long) (pa0 * MR + r) * TAPS * cin, TAPS * cin, widened, r * tapRow);
        }
        // The last panel's padding rows multiply into tile rows the epilogue drops; zero them once.
        for (int j = 0; j < side; j++) {
            Arrays.fill(u, j * block + channels * cin, j * block + rows * cin, 0f);
        }
        int aOff = -pa0 * cin * MR;
        for (int i = 0; i < side; i++) {
            transformRow(tile, i, widened, tapRow, channels, cin, u, block, column);
            for (int j = 0; j < side; j++) {
                int xi = side * i + j;
                Gemm.multiplyBlock(u, j * block + aOff, cout, pa0, pa1, v, xi * sizeB, 0, bPanels, tiles, cin, targets[xi]);
            }
        }
    }

    /**
     * The kept form of a layer's filters: U = G g G^T for every output channel, as n^2 GEMM A operands of
     * {@code sizeA} values ([cout, cin] in panels) one after another in {@code packed}, made by the same operations
     * as {@link #multiply} (so kept and streamed F32 filters are the same bits), a task per few A panels.
     */
    static PackedWeights transformAll(WinogradTile tile, Tensor w, int cout, int cin, PackedWeights packed, WorkerPool pool) {
        int side = tile.in;
        long sizeA = (long) Gemm.panelsA(cout) * cin * MR;
        int perTask = panelsPerTask(tile, cout, cin);
        int tasks = (Gemm.panelsA(cout) + perTask - 1) / perTask;
        pool.forEach(tasks, task -> {
            int pa0 = task * perTask;
            int channels = Math.min(perTask * MR, cout - pa0 * MR);
            int block = channels * cin + CACHE_LINE_FLOATS;
            int tapRow = TAPS * cin + CACHE_LINE_FLOATS;
            float[] u = BLOCKS.floats(side * block);
            float[] widened = TAPS_SCRATCH.floats(channels * tapRow + L);
            float[] column = COLUMN.floats((3 + side) * L);
            float[] row = new float[TAPS * cin];
            for (int r = 0; r < channels; r++) {
                Packing.readRow(w, pa0 * MR + r, TAPS * cin, row);
                toTapMajor(row, cin, widened, r * tapRow);
            }
            for (int i = 0; i < side; i++) {
                transformRow(tile, i, widened, tapRow, channels, cin, u, block, column);
                for (int j = 0; j < side; j++) {
                    packed.write((side * i + j) * sizeA + (long) pa0 * cin * MR, u, j * block, channels * cin);
                }
            }
        });
        return packed;
    }

    /**
     * Row i of the n x n transform positions for {@code channels} output channels whose widened taps lie
     * {@code tapRow} apart in {@code widened}: U_ij for each j into the block at u[j * block], channel r's row at r * cin.
     */
    private static void transformRow(WinogradTile tile, int i, float[] widened, int tapRow, int channels, int cin, float[] u,
                                     int block, float[] column) {
        int side = tile.in;
        WinogradTransforms transforms = tile.transforms;
        float[] g = tile.g[i];
        int unit = unitRow(g);
        for (int r = 0; r < channels; r++) {
            for (int ci = 0; ci < cin; ci += L) {
                int t = r * tapRow + ci, o = r * cin + ci, count = Math.min(L, cin - ci);
                if (unit >= 0) {
                    combineTaps(transforms, side, widened, t + 3 * unit * cin, cin, column, u, o, block, count);
                } else {
                    transform(transforms, side, widened, column, g[0], g[1], g[2], t, cin, u, o, block, count);
                }
            }
        }
    }

    /**
     * Row i of U = G g G^T for L consecutive input channels of one output channel, whose taps start at
     * taps[t] (lanes are channels): row i of G (g0, g1, g2) down the kernel's columns into {@code column}, then G
     * along the row; the n results are stored {@code block} apart from u[o], {@code count} lanes of each.
     */
    private static void transform(WinogradTransforms transforms, int side, float[] taps, float[] column, float g0, float g1,
                                  float g2, int t, int cin, float[] u, int o, int block, int count) {
        FloatVector c1 = FloatVector.broadcast(F, g1), c2 = FloatVector.broadcast(F, g2);
        for (int kx = 0; kx < 3; kx++) {
            FloatVector top = FloatVector.fromArray(F, taps, t + kx * cin);
            FloatVector middle = FloatVector.fromArray(F, taps, t + (3 + kx) * cin);
            FloatVector bottom = FloatVector.fromArray(F, taps, t + (6 + kx) * cin);
            bottom.fma(c2, middle.fma(c1, top.mul(g0))).intoArray(column, kx * L);
        }
        if (count == L) {
            transforms.combine(column, 0, L, 2 * L, u, o, block);
            return;
        }
        transforms.combine(column, 0, L, 2 * L, column, 3 * L, L);
        for (int j = 0; j < side; j++) {
            System.arraycopy(column, (3 + j) * L, u, o + j * block, count);
        }
    }

    /**
     * The same for a row of G that is a unit vector (F(2x2)'s first and last, F(4x4)'s last): the column pass
     * would copy one kernel row, so G is applied along that row of taps (from taps[t], {@code cin} apart) as it is.
     */
    private static void combineTaps(WinogradTransforms transforms, int side, float[] taps, int t, int cin, float[] column,
                                    float[] u, int o, int block, int count) {
        if (count == L) {
            transforms.combine(taps, t, t + cin, t + 2 * cin, u, o, block);
            return;
        }
        transforms.combine(taps, t, t + cin, t + 2 * cin, column, 3 * L, L);
        for (int j = 0; j < side; j++) {
            System.arraycopy(column, (3 + j) * L, u, o + j * block, count);
        }
    }

    /** k where row {@code g} of G is the unit vector e_k, else -1. */
    private static int unitRow(float[] g) {
        for (int k = 0; k < 3; k++) {
            if (g[k] == 1f && g[(k + 1) % 3] == 0f && g[(k + 2) % 3] == 0f) {
                return k;
            }
        }
        return -1;
    }
}
