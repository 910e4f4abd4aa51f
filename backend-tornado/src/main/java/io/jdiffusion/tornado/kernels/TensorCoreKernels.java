package io.jdiffusion.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.enums.MMAShape;
import uk.ac.manchester.tornado.api.types.HalfFloat;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * Matrix products on NVIDIA tensor cores ({@code mma.sync.m16n8k16}, F16 operands, F32 accumulation) for
 * {@code Linear} and {@code Conv2d} (PTX and CUDA backends, compute capability 8.0 and up).
 *
 * <p>One work-group of 256 threads (8 warps, 4 along M by 2 along N) computes a 128x128 output tile in
 * steps of 16 along K; each warp owns 32x64 of it, 16 accumulator fragments. Operands are staged in local
 * memory as packed F16 pairs in the layout {@code ldmatrix} reads: A row-major 16x16 blocks, B 16x8
 * sub-tiles stored k-major.
 * <ul>
 *   <li>{@link #MODE_LINEAR}: A = the activations x [rows, k] (F32, rounded to F16 as the tile is loaded),
 *       B = the weight transposed and zero-padded on upload, [kPadded, wStride] F16. For GEGLU a work-group
 *       takes 64 value columns and the 64 gate columns that pair with them (gates start at column
 *       {@code halfPadded}), so the gate multiplies inside the epilogue.</li>
 *   <li>{@link #MODE_CONV}: an implicit GEMM, A = the weight [rowsPadded, kPadded] F16 (cout rows, zero
 *       padded), B = the im2col of one image of x gathered on the fly (grid z is the batch).</li>
 * </ul>
 * TornadoVM's accumulator fragments are registers that Java code cannot index, so the fused epilogue (bias,
 * activation, GEGLU, residual, bounds) reads the tile back: each warp stores its fragments into the
 * work-group's own 128x128 slice of {@code scratch} (global memory, L2-resident), a barrier publishes them,
 * and all 256 threads finish the tile with coalesced reads. Every geometry field lives in
 * {@code sizes[meta + field]} so that one compiled kernel serves every shape.
 */
public final class TensorCoreKernels {
    public static final int BLOCK_M = 128;
    public static final int BLOCK_N = 128;
    public static final int BLOCK_K = 16;
    public static final int THREADS = 256;
    /** Floats of scratch each work-group owns. */
    public static final int TILE_FLOATS = BLOCK_M * BLOCK_N;
    /** GEGLU: value columns per work-group (the other 64 are their gates). */
    public static final int GEGLU_COLUMNS = 64;

    public static final int MODE_LINEAR = 0;
    public static final int MODE_CONV = 1;

    /** Fields of the descriptor at {@code sizes[meta]}. */
    public static final int MODE = 0;
    public static final int ROWS = 1;
    public static final int COLS = 2;
    public static final int K_TOTAL = 3;
    public static final int K_PADDED = 4;
    public static final int W_STRIDE = 5;
    public static final int ACT = 6;
    public static final int HALF_PADDED = 7;
    public static final int CIN = 8;
    public static final int IN_H = 9;
    public static final int IN_W = 10;
    public static final int OUT_W = 11;
    public static final int GEOM = 12;
    public static final int PADS = 13;
    public static final int ROW_BLOCKS = 14;
    public static final int COL_BLOCKS = 15;
    public static final int FIELDS = 16;

    private static final int WARP = 32;
    private static final int B_SUBTILE_BYTES = 256;

    private TensorCoreKernels() {
    }

    public static void gemm(KernelContext ctx, FloatArray x, int xOff, HalfFloatArray w, int wOff, FloatArray bias, int bOff,
                            FloatArray res, int rOff, FloatArray out, int oOff, FloatArray scratch, IntArray sizes, int meta) {
        int mode = sizes.get(meta + MODE);
        int rows = sizes.get(meta + ROWS);
        int cols = sizes.get(meta + COLS);
        int kTotal = sizes.get(meta + K_TOTAL);
        int kp = sizes.get(meta + K_PADDED);
        int ldw = sizes.get(meta + W_STRIDE);
        int act = sizes.get(meta + ACT);
        int hp = sizes.get(meta + HALF_PADDED);
        int cin = sizes.get(meta + CIN);
        int h = sizes.get(meta + IN_H);
        int wd = sizes.get(meta + IN_W);
        int wo = sizes.get(meta + OUT_W);
        int geom = sizes.get(meta + GEOM);
        int pads = sizes.get(meta + PADS);
        int rowBlocks = sizes.get(meta + ROW_BLOCKS);
        int colBlocks = sizes.get(meta + COL_BLOCKS);
        int kh = geom & 255;
        int kw = (geom >> 8) & 255;
        int stride = (geom >> 16) & 255;
        int dy = -(pads & 65535);
        int dx = -((pads >> 16) & 65535);
        int khw = kh * kw;

        int tid = ctx.localIdx;
        int warpId = tid / WARP;
        int warpM = warpId / 2;
        int warpN = warpId - warpM * 2;
        int bx = ctx.groupIdx;
        int by = ctx.groupIdy;
        int bz = ctx.groupIdz;
        int row0 = bx * BLOCK_M;
        boolean geglu = act == KernelMath.ACT_GEGLU;
        int col0 = by * BLOCK_N;
        int split = BLOCK_N;
        int shift = 0;
        if (geglu) {
            col0 = by * GEGLU_COLUMNS;
            split = GEGLU_COLUMNS;
            shift = hp - GEGLU_COLUMNS;
        }
        int plane = h * wd;
        int xImage = xOff + bz * cin * plane;

        int[] aTile = ctx.allocateIntLocalArray(BLOCK_M * BLOCK_K / 2);
        int[] bTile = ctx.allocateIntLocalArray(BLOCK_K * BLOCK_N / 2);

        float[] c00 = ctx.mmaFragment(0.0f);
        float[] c01 = ctx.mmaFragment(0.0f);
        float[] c02 = ctx.mmaFragment(0.0f);
        float[] c03 = ctx.mmaFragment(0.0f);
        float[] c04 = ctx.mmaFragment(0.0f);
        float[] c05 = ctx.mmaFragment(0.0f);
        float[] c06 = ctx.mmaFragment(0.0f);
        float[] c07 = ctx.mmaFragment(0.0f);
        float[] c10 = ctx.mmaFragment(0.0f);
        float[] c11 = ctx.mmaFragment(0.0f);
        float[] c12 = ctx.mmaFragment(0.0f);
        float[] c13 = ctx.mmaFragment(0.0f);
        float[] c14 = ctx.mmaFragment(0.0f);
        float[] c15 = ctx.mmaFragment(0.0f);
        float[] c16 = ctx.mmaFragment(0.0f);
        float[] c17 = ctx.mmaFragment(0.0f);

        for (int k0 = 0; k0 < kp; k0 += BLOCK_K) {
            if (mode == MODE_CONV) {
                for (int idx = tid; idx < 1024; idx += THREADS) {
                    int g = wOff + (row0 + (idx >> 3)) * kp + k0 + ((idx & 7) << 1);
                    aTile[idx] = (w.get(g).getHalfFloatValue() & 0xFFFF) | ((w.get(g + 1).getHalfFloatValue() & 0xFFFF) << 16);
                }
                // Consecutive threads take consecutive pixel pairs of one k row: coalesced reads of x.
                for (int idx = tid; idx < 1024; idx += THREADS) {
                    int kr = idx >> 6;
                    int pc = (idx & 63) << 1;
                    int gk = k0 + kr;
                    int lo = 0;
                    int hi = 0;
                    if (gk < kTotal) {
                        int ci = gk / khw;
                        int rem = gk - ci * khw;
                        int ky = rem / kw;
                        int kx = rem - ky * kw;
                        int base = xImage + ci * plane;
                        lo = pixelHalf(x, base, col0 + pc, cols, wo, stride, ky + dy, kx + dx, h, wd);
                        hi = pixelHalf(x, base, col0 + pc + 1, cols, wo, stride, ky + dy, kx + dx, h, wd);
                    }
                    bTile[(pc >> 3) * 64 + kr * 4 + ((pc & 7) >> 1)] = lo | (hi << 16);
                }
            } else {
                for (int idx = tid; idx < 1024; idx += THREADS) {
                    int r = row0 + (idx >> 3);
                    int kk = k0 + ((idx & 7) << 1);
                    int lo = 0;
                    int hi = 0;
                    if (r < rows) {
                        int g = xOff + r * kTotal + kk;
                        if (kk < kTotal) {
                            lo = half(x, g);
                        }
                        if (kk + 1 < kTotal) {
                            hi = half(x, g + 1);
                        }
                    }
                    aTile[idx] = lo | (hi << 16);
                }
                for (int idx = tid; idx < 1024; idx += THREADS) {
                    int in = idx & 63;
                    int col = (idx >> 6) * 8 + ((in & 3) << 1);
                    int gcol = col0 + col;
                    if (col >= split) {
                        gcol += shift;
                    }
                    int g = wOff + (k0 + (in >> 2)) * ldw + gcol;
                    bTile[idx] = (w.get(g).getHalfFloatValue() & 0xFFFF) | ((w.get(g + 1).getHalfFloatValue() & 0xFFFF) << 16);
                }
            }
            ctx.localBarrier();

            HalfFloat[] a0 = ctx.mmaLoadA(aTile, BLOCK_K, warpM * 1024);
            HalfFloat[] a1 = ctx.mmaLoadA(aTile, BLOCK_K, warpM * 1024 + 512);
            int bBase = warpN * 8;
            HalfFloat[] b0 = ctx.mmaLoadB(bTile, BLOCK_K, bBase * B_SUBTILE_BYTES);
            HalfFloat[] b1 = ctx.mmaLoadB(bTile, BLOCK_K, (bBase + 1) * B_SUBTILE_BYTES);
            HalfFloat[] b2 = ctx.mmaLoadB(bTile, BLOCK_K, (bBase + 2) * B_SUBTILE_BYTES);
            HalfFloat[] b3 = ctx.mmaLoadB(bTile, BLOCK_K, (bBase + 3) * B_SUBTILE_BYTES);
            HalfFloat[] b4 = ctx.mmaLoadB(bTile, BLOCK_K, (bBase + 4) * B_SUBTILE_BYTES);
            HalfFloat[] b5 = ctx.mmaLoadB(bTile, BLOCK_K, (bBase + 5) * B_SUBTILE_BYTES);
            HalfFloat[] b6 = ctx.mmaLoadB(bTile, BLOCK_K, (bBase + 6) * B_SUBTILE_BYTES);
            HalfFloat[] b7 = ctx.mmaLoadB(bTile, BLOCK_K, (bBase + 7) * B_SUBTILE_BYTES);
            c00 = ctx.mma(a0, b0, c00, MMAShape.M16N8K16);
            c01 = ctx.mma(a0, b1, c01, MMAShape.M16N8K16);
            c02 = ctx.mma(a0, b2, c02, MMAShape.M16N8K16);
            c03 = ctx.mma(a0, b3, c03, MMAShape.M16N8K16);
            c04 = ctx.mma(a0, b4, c04, MMAShape.M16N8K16);
            c05 = ctx.mma(a0, b5, c05, MMAShape.M16N8K16);
            c06 = ctx.mma(a0, b6, c06, MMAShape.M16N8K16);
            c07 = ctx.mma(a0, b7, c07, MMAShape.M16N8K16);
            c10 = ctx.mma(a1, b0, c10, MMAShape.M16N8K16);
            c11 = ctx.mma(a1, b1, c11, MMAShape.M16N8K16);
            c12 = ctx.mma(a1, b2, c12, MMAShape.M16N8K16);
            c13 = ctx.mma(a1, b3, c13, MMAShape.M16N8K16);
            c14 = ctx.mma(a1, b4, c14, MMAShape.M16N8K16);
            c15 = ctx.mma(a1, b5, c15, MMAShape.M16N8K16);
            c16 = ctx.mma(a1, b6, c16, MMAShape.M16N8K16);
            c17 = ctx.mma(a1, b7, c17, MMAShape.M16N8K16);
            ctx.localBarrier();
        }

        int block = (bz * colBlocks + by) * rowBlocks + bx;
        int tileRow = block * BLOCK_M + warpM * 32;
        int cb = warpN * 64;
        ctx.mmaStore(c00, scratch, tileRow, cb, BLOCK_N);
        ctx.mmaStore(c01, scratch, tileRow, cb + 8, BLOCK_N);
        ctx.mmaStore(c02, scratch, tileRow, cb + 16, BLOCK_N);
        ctx.mmaStore(c03, scratch, tileRow, cb + 24, BLOCK_N);
        ctx.mmaStore(c04, scratch, tileRow, cb + 32, BLOCK_N);
        ctx.mmaStore(c05, scratch, tileRow, cb + 40, BLOCK_N);
        ctx.mmaStore(c06, scratch, tileRow, cb + 48, BLOCK_N);
        ctx.mmaStore(c07, scratch, tileRow, cb + 56, BLOCK_N);
        ctx.mmaStore(c10, scratch, tileRow + 16, cb, BLOCK_N);
        ctx.mmaStore(c11, scratch, tileRow + 16, cb + 8, BLOCK_N);
        ctx.mmaStore(c12, scratch, tileRow + 16, cb + 16, BLOCK_N);
        ctx.mmaStore(c13, scratch, tileRow + 16, cb + 24, BLOCK_N);
        ctx.mmaStore(c14, scratch, tileRow + 16, cb + 32, BLOCK_N);
        ctx.mmaStore(c15, scratch, tileRow + 16, cb + 40, BLOCK_N);
        ctx.mmaStore(c16, scratch, tileRow + 16, cb + 48, BLOCK_N);
        ctx.mmaStore(c17, scratch, tileRow + 16, cb + 56, BLOCK_N);
        // bar.sync also orders the work-group's global writes: the tile is complete for every thread after it.
        ctx.localBarrier();

        int sBase = block * TILE_FLOATS;
        if (mode == MODE_CONV) {
            int imageBase = bz * rows * cols;
            for (int e = tid; e < TILE_FLOATS; e += THREADS) {
                GemmEpilogue.conv(bias, bOff, res, rOff, out, oOff, imageBase, rows, cols, row0 + (e >> 7), col0 + (e & 127),
                        scratch.get(sBase + e));
            }
        } else if (geglu) {
            for (int e = tid; e < BLOCK_M * GEGLU_COLUMNS; e += THREADS) {
                int r = e >> 6;
                int c = e & 63;
                int s = sBase + r * BLOCK_N + c;
                GemmEpilogue.geglu(bias, bOff, res, rOff, out, oOff, rows, cols, row0 + r, col0 + c, scratch.get(s),
                        scratch.get(s + GEGLU_COLUMNS));
            }
        } else {
            for (int e = tid; e < TILE_FLOATS; e += THREADS) {
                GemmEpilogue.linear(bias, bOff, res, rOff, out, oOff, rows, cols, row0 + (e >> 7), col0 + (e & 127),
                        scratch.get(sBase + e), act);
            }
        }
    }

    /** F16 bits of x[i] (round to nearest even: {@code cvt.rn.f16.f32}). */
    private static int half(FloatArray x, int i) {
        return new HalfFloat(x.get(i)).getHalfFloatValue() & 0xFFFF;
    }

    /** F16 bits of the input pixel under output pixel p shifted by (dy, dx); 0 in the zero padding. */
    private static int pixelHalf(FloatArray x, int plane, int p, int pixels, int wo, int stride, int dy, int dx, int h, int wd) {
        int bits = 0;
        if (p < pixels) {
            int oy = p / wo;
            int ox = p - oy * wo;
            int iy = oy * stride + dy;
            int ix = ox * stride + dx;
            if (iy >= 0 && iy < h && ix >= 0 && ix < wd) {
                bits = half(x, plane + iy * wd + ix);
            }
        }
        return bits;
    }
}
