package io.jdiffusion.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.enums.MMAShape;
import uk.ac.manchester.tornado.api.types.HalfFloat;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

import static io.jdiffusion.tornado.kernels.TensorCoreKernels.*;

/**
 * {@link TensorCoreKernels#gemm} for TornadoVM's CUDA backend, which lowers {@code cp.async} besides {@code mma.sync}
 * (the PTX backend lowers only the latter): the same tiles, descriptor, operands and epilogue, with the weight operand
 * (A of a convolution, B of a Linear) copied from global to local memory by {@code cp.async} into a second stage of
 * local memory while the tensor cores work on the first. A Linear's F16 activations are copied the same way where
 * every pair is whole (A, its row stride and K even), pairs past its rows or K stored as zeros; a convolution's im2col
 * pairs stay staged through registers, since a pair's two pixels need not be adjacent in memory, which a 4-byte copy
 * cannot express, and F32 activations are rounded to F16 on the way.
 *
 * <p>Why: in {@link TensorCoreKernels#gemm} ptxas issues the next step's global loads after the step's 32 HMMA
 * (register pressure under the 128-register cap), so every step waited a whole memory round trip for its operands.
 * A copy in flight holds no register, so half of the step's operands now arrive while the tensor cores run.
 *
 * <p>A method of its own rather than a mode of {@link TensorCoreKernels#gemm}: the PTX backend rejects a {@code cp.async}
 * call when it parses a method, on any branch. The two share their loaders, tile layouts and epilogue methods; their
 * bodies repeat the descriptor's fields and the accumulator fragments, which Java code can only name one by one.
 *
 * <p>Local memory: two stages of {@link #STAGE_INTS} ints, each the A tile (2048 ints) and the B tile (2048) in
 * {@link TensorCoreKernels#gemm}'s layouts. One barrier a step: stage s is filled (the activations stored, the copies
 * waited for) before the barrier, and the copies into the other stage start after it, when every warp is done with
 * the step that read it.
 */
public final class TensorCoreAsyncGemm {
    /** Ints of one stage: the A tile, then the B tile. */
    public static final int STAGE_INTS = 4096;
    private static final int A_INTS = 2048;
    /** Pairs (ints) of one operand tile that each thread copies. */
    private static final int PAIRS_PER_THREAD = A_INTS / THREADS;

    private TensorCoreAsyncGemm() {
    }

    /**
     * {@link TensorCoreKernels#gemm}'s product, its offsets in {@code args} (fields {@link TensorCoreKernels#ARG_X} to
     * {@link TensorCoreKernels#ARG_META}) rather than scalars: the CUDA backend compiles one kernel per distinct source,
     * and scalars are compiled in as constants, so products that differ only in where their operands lie share one
     * compilation (the UNet's some 300 products compiled one by one through NVRTC did not finish its first run in 150 s
     * on an H100).
     */
    public static void gemm(KernelContext ctx, HalfFloatArray f16, int halves, FloatArray x, HalfFloatArray w, FloatArray bias,
                            FloatArray res, FloatArray out, FloatArray scratch, IntArray sizes, IntArray args, int mode) {
        int xOff = args.get(ARG_X);
        int wOff = args.get(ARG_W);
        int bOff = args.get(ARG_BIAS);
        int rOff = args.get(ARG_RESIDUAL);
        int oOff = args.get(ARG_OUT);
        int meta = args.get(ARG_META);
        boolean xHalf = Storage.half(halves, Storage.X);
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
        int batch = sizes.get(meta + BATCH);
        int splits = sizes.get(meta + SPLITS);
        int kChunk = sizes.get(meta + K_CHUNK);
        int lda = sizes.get(meta + A_STRIDE);
        int ldo = sizes.get(meta + OUT_STRIDE);
        int kh = geom & 255;
        int kw = (geom >> 8) & 255;
        int stride = (geom >> 16) & 255;
        int dy = -(pads & 65535);
        int dx = -((pads >> 16) & 65535);

        int tid = ctx.localIdx;
        int warpId = tid / WARP;
        int warpM = warpId / 2;
        int warpN = warpId - warpM * 2;
        int bx = ctx.groupIdx;
        int by = ctx.groupIdy;
        int bz = ctx.groupIdz;
        int part = bz / batch;
        int image = bz - part * batch;
        int kBegin = part * kChunk;
        int kEnd = kBegin + kChunk < kp ? kBegin + kChunk : kp;
        int row0 = bx * BLOCK_M;
        boolean geglu = act == KernelMath.ACT_GEGLU;
        boolean conv = mode == MODE_CONV;
        int col0 = by * BLOCK_N;
        int split = BLOCK_N;
        int shift = 0;
        if (geglu) {
            col0 = by * GEGLU_COLUMNS;
            split = GEGLU_COLUMNS;
            shift = hp - GEGLU_COLUMNS;
        }
        int plane = h * wd;
        int xImage = xOff + image * cin * plane;
        int aBase = xOff + image * sizes.get(meta + A_IMAGE);
        int wBase = wOff + image * sizes.get(meta + W_IMAGE);
        int oImage = image * sizes.get(meta + OUT_IMAGE);

        int[] tiles = ctx.allocateIntLocalArray(2 * STAGE_INTS);

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

        // The activation pairs of the next step, in registers (see gemm); zeros for the loop's first pass.
        int v0 = 0;
        int v1 = 0;
        int v2 = 0;
        int v3 = 0;
        int v4 = 0;
        int v5 = 0;
        int v6 = 0;
        int v7 = 0;

        // the im2col loader's per-thread constants, as in TensorCoreKernels.gemm
        int pixel = col0 + ((tid & 63) << 1);
        int woAtLeast1 = Math.max(wo, 1);
        int oy = pixel / woAtLeast1;
        int ox = pixel - oy * woAtLeast1;
        boolean wrap = ox + 1 == wo;
        int iy0 = oy * stride + dy;
        int ix0 = ox * stride + dx;
        int iy1 = (wrap ? oy + 1 : oy) * stride + dy;
        int ix1 = (wrap ? 0 : ox + 1) * stride + dx;
        int taps0 = pixel < cols ? tapMask(iy0, ix0, kh, kw, h, wd) : 0;
        int taps1 = pixel + 1 < cols ? tapMask(iy1, ix1, kh, kw, h, wd) : 0;
        int base0 = xImage + iy0 * wd + ix0;
        int base1 = xImage + iy1 * wd + ix1;
        int table = meta + FIELDS;
        int kRow = tid >> 6;
        // where this thread's activation pairs go within a stage: B of a convolution, A of a Linear
        int actSlot = conv ? A_INTS + bSlot(mode, tid) : tid;
        // A Linear's F16 activations are copied too where every pair is whole: A, its row stride and K all even
        boolean copyA = !conv && xHalf && ((aBase | lda | kTotal) & 1) == 0;

        // The loop starts one step early on stage 1, zeroed here: that pass adds zeros and starts the first copies.
        for (int i = 0; i < STAGE_INTS / THREADS; i++) {
            tiles[STAGE_INTS + tid + i * THREADS] = 0;
        }
        int stage = 1;
        for (int k0 = kBegin - BLOCK_K; k0 < kEnd; k0 += BLOCK_K) {
            int base = stage * STAGE_INTS;
            if (!copyA) {
                int at = base + actSlot;
                tiles[at] = v0;
                tiles[at + actStep(mode, 1)] = v1;
                tiles[at + actStep(mode, 2)] = v2;
                tiles[at + actStep(mode, 3)] = v3;
                tiles[at + actStep(mode, 4)] = v4;
                tiles[at + actStep(mode, 5)] = v5;
                tiles[at + actStep(mode, 6)] = v6;
                tiles[at + actStep(mode, 7)] = v7;
            }
            ctx.asyncCopyWaitGroup(0);
            ctx.localBarrier();

            int kn = k0 + BLOCK_K;
            int next = (STAGE_INTS - base) + tid;
            if (kn < kEnd) {
                // each thread copies 8 of the stage's 2048 pairs, 256 apart
                for (int i = 0; i < PAIRS_PER_THREAD; i++) {
                    int pair = tid + i * THREADS;
                    if (conv) {
                        ctx.asyncCopyToLocal(tiles, next + i * THREADS, w, convWeight(wBase, pair, kn, row0, kp));
                    } else {
                        ctx.asyncCopyToLocal(tiles, next + A_INTS + i * THREADS, w, linearWeight(wBase, pair, kn, ldw, col0, split, shift));
                        if (copyA) {
                            // pairs past the operand's rows or K are zeros, stored directly
                            int g = activationPair(aBase, pair, kn, row0, rows, kTotal, lda);
                            if (g >= 0) {
                                ctx.asyncCopyToLocal(tiles, next + i * THREADS, f16, g);
                            } else {
                                tiles[next + i * THREADS] = 0;
                            }
                        }
                    }
                }
            }
            ctx.asyncCopyCommit();
            if (conv) {
                v0 = im2colPair(x, f16, xHalf, xImage, sizes, table + 2 * (kn + kRow), base0, base1, taps0, taps1);
                v1 = im2colPair(x, f16, xHalf, xImage, sizes, table + 2 * (kn + kRow + 4), base0, base1, taps0, taps1);
                v2 = im2colPair(x, f16, xHalf, xImage, sizes, table + 2 * (kn + kRow + 8), base0, base1, taps0, taps1);
                v3 = im2colPair(x, f16, xHalf, xImage, sizes, table + 2 * (kn + kRow + 12), base0, base1, taps0, taps1);
                v4 = im2colPair(x, f16, xHalf, xImage, sizes, table + 2 * (kn + kRow + 16), base0, base1, taps0, taps1);
                v5 = im2colPair(x, f16, xHalf, xImage, sizes, table + 2 * (kn + kRow + 20), base0, base1, taps0, taps1);
                v6 = im2colPair(x, f16, xHalf, xImage, sizes, table + 2 * (kn + kRow + 24), base0, base1, taps0, taps1);
                v7 = im2colPair(x, f16, xHalf, xImage, sizes, table + 2 * (kn + kRow + 28), base0, base1, taps0, taps1);
            } else if (!copyA) {
                v0 = loadA(x, f16, xHalf, aBase, w, wBase, mode, tid, kn, row0, rows, kTotal, kp, lda);
                v1 = loadA(x, f16, xHalf, aBase, w, wBase, mode, tid + 256, kn, row0, rows, kTotal, kp, lda);
                v2 = loadA(x, f16, xHalf, aBase, w, wBase, mode, tid + 512, kn, row0, rows, kTotal, kp, lda);
                v3 = loadA(x, f16, xHalf, aBase, w, wBase, mode, tid + 768, kn, row0, rows, kTotal, kp, lda);
                v4 = loadA(x, f16, xHalf, aBase, w, wBase, mode, tid + 1024, kn, row0, rows, kTotal, kp, lda);
                v5 = loadA(x, f16, xHalf, aBase, w, wBase, mode, tid + 1280, kn, row0, rows, kTotal, kp, lda);
                v6 = loadA(x, f16, xHalf, aBase, w, wBase, mode, tid + 1536, kn, row0, rows, kTotal, kp, lda);
                v7 = loadA(x, f16, xHalf, aBase, w, wBase, mode, tid + 1792, kn, row0, rows, kTotal, kp, lda);
            }

            int stageBytes = base * 4;
            for (int kHalf = 0; kHalf < 2; kHalf++) {
                int aOff = stageBytes + kHalf * HALF_TILE_BYTES + warpM * 1024;
                int bOff0 = stageBytes + A_INTS * 4 + kHalf * HALF_TILE_BYTES + warpN * 8 * B_SUBTILE_BYTES;
                HalfFloat[] fa0 = ctx.mmaLoadA(tiles, MMA_K, aOff);
                HalfFloat[] fa1 = ctx.mmaLoadA(tiles, MMA_K, aOff + 512);
                HalfFloat[] fb0 = ctx.mmaLoadB(tiles, MMA_K, bOff0);
                HalfFloat[] fb1 = ctx.mmaLoadB(tiles, MMA_K, bOff0 + B_SUBTILE_BYTES);
                HalfFloat[] fb2 = ctx.mmaLoadB(tiles, MMA_K, bOff0 + 2 * B_SUBTILE_BYTES);
                HalfFloat[] fb3 = ctx.mmaLoadB(tiles, MMA_K, bOff0 + 3 * B_SUBTILE_BYTES);
                HalfFloat[] fb4 = ctx.mmaLoadB(tiles, MMA_K, bOff0 + 4 * B_SUBTILE_BYTES);
                HalfFloat[] fb5 = ctx.mmaLoadB(tiles, MMA_K, bOff0 + 5 * B_SUBTILE_BYTES);
                HalfFloat[] fb6 = ctx.mmaLoadB(tiles, MMA_K, bOff0 + 6 * B_SUBTILE_BYTES);
                HalfFloat[] fb7 = ctx.mmaLoadB(tiles, MMA_K, bOff0 + 7 * B_SUBTILE_BYTES);
                c00 = ctx.mma(fa0, fb0, c00, MMAShape.M16N8K16);
                c01 = ctx.mma(fa0, fb1, c01, MMAShape.M16N8K16);
                c02 = ctx.mma(fa0, fb2, c02, MMAShape.M16N8K16);
                c03 = ctx.mma(fa0, fb3, c03, MMAShape.M16N8K16);
                c04 = ctx.mma(fa0, fb4, c04, MMAShape.M16N8K16);
                c05 = ctx.mma(fa0, fb5, c05, MMAShape.M16N8K16);
                c06 = ctx.mma(fa0, fb6, c06, MMAShape.M16N8K16);
                c07 = ctx.mma(fa0, fb7, c07, MMAShape.M16N8K16);
                c10 = ctx.mma(fa1, fb0, c10, MMAShape.M16N8K16);
                c11 = ctx.mma(fa1, fb1, c11, MMAShape.M16N8K16);
                c12 = ctx.mma(fa1, fb2, c12, MMAShape.M16N8K16);
                c13 = ctx.mma(fa1, fb3, c13, MMAShape.M16N8K16);
                c14 = ctx.mma(fa1, fb4, c14, MMAShape.M16N8K16);
                c15 = ctx.mma(fa1, fb5, c15, MMAShape.M16N8K16);
                c16 = ctx.mma(fa1, fb6, c16, MMAShape.M16N8K16);
                c17 = ctx.mma(fa1, fb7, c17, MMAShape.M16N8K16);
            }
            stage = 1 - stage;
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

        if (splits == 1) {
            int sBase = block * TILE_FLOATS;
            for (int slice = 0; slice < EPILOGUE_GROUPS; slice++) {
                if (conv) {
                    finishConv(slice, tid, f16, halves, bias, bOff, res, rOff, out, oOff, scratch, sBase, 0, 1, rows, cols, image, row0,
                            col0);
                } else if (geglu) {
                    finishGeglu(slice, tid, f16, halves, bias, bOff, res, rOff, out, oOff, scratch, sBase, 0, 1, rows, cols, row0, col0);
                } else {
                    finishLinear(slice, tid, f16, halves, bias, bOff, res, imageOffset(rOff, oImage), out, oOff + oImage, scratch, sBase,
                            0, 1, rows, cols, ldo, row0, col0, act);
                }
            }
        }
    }

    /** How far a thread's i-th activation pair lies from its first within a stage: B's steps for a convolution, A's for a Linear. */
    private static int actStep(int mode, int i) {
        return mode == MODE_CONV ? bStep(mode, i) : i * THREADS;
    }

    /** Element index of the convolution weight's pair {@code idx} (0..2047) of the A tile at k step kn (loadA's layout). */
    static int convWeight(int wBase, int idx, int kn, int row0, int kp) {
        int within = idx & 1023;
        int r = row0 + (within >> 3);
        int k = kn + ((idx >> 10) << 4) + ((within & 7) << 1);
        return wBase + r * kp + k;
    }

    /**
     * Element index of the Linear's F16 activation pair {@code idx} (0..2047) of the A tile at k step kn (loadA's layout),
     * or -1 where the pair lies past the operand's rows or K (both its halves: K is even on this path).
     */
    static int activationPair(int aBase, int idx, int kn, int row0, int rows, int kTotal, int lda) {
        int within = idx & 1023;
        int r = row0 + (within >> 3);
        int k = kn + ((idx >> 10) << 4) + ((within & 7) << 1);
        return r < rows && k < kTotal ? aBase + r * lda + k : -1;
    }

    /** Element index of the linear weight's pair {@code idx} (0..2047) of the B tile at k step kn (weightPair's layout). */
    static int linearWeight(int wBase, int idx, int kn, int ldw, int col0, int split, int shift) {
        int within = idx & 1023;
        int in = within & 63;
        int col = (within >> 6) * 8 + ((in & 3) << 1);
        int k = kn + ((idx >> 10) << 4) + (in >> 2);
        int gcol = col >= split ? col0 + col + shift : col0 + col;
        return wBase + k * ldw + gcol;
    }
}
