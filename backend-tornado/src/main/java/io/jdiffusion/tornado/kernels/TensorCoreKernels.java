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
 * steps of 32 along K; each warp owns 32x64 of it, 16 accumulator fragments. Operands are staged in local
 * memory as packed F16 pairs in the layout {@code ldmatrix} reads: A row-major 16x16 blocks, B 16x8
 * sub-tiles stored k-major. The global loads of the next step are issued before the tensor cores start on
 * the current one (register double-buffering): without that each step waited for 8 dependent memory round
 * trips, and the kernel ran no faster than the F32 one.
 * <ul>
 *   <li>{@link #MODE_LINEAR}: A = the activations x [rows, k], rows {@link #A_STRIDE} apart (F16, or F32 rounded to
 *       F16 as the tile is loaded), B = the weight transposed and zero-padded on upload, [kPadded, wStride] F16; grid z
 *       may walk images of a batched product (an attention's heads, {@link #A_IMAGE}). For GEGLU a work-group
 *       takes 64 value columns and the 64 gate columns that pair with them (gates start at column
 *       {@code halfPadded}), so the gate multiplies inside the epilogue.</li>
 *   <li>{@link #MODE_CONV}: an implicit GEMM, A = the weight [rowsPadded, kPadded] F16 (cout rows, zero
 *       padded), B = the im2col of one image of x gathered on the fly (grid z is the batch).</li>
 * </ul>
 * TornadoVM's accumulator fragments are registers that Java code cannot index, so the fused epilogue (bias,
 * activation, GEGLU, residual, bounds) reads the tile back: each warp stores its fragments into the
 * work-group's own 128x128 slice of {@code scratch} (global memory, L2-resident), a barrier publishes them,
 * and all 256 threads finish the tile with coalesced reads.
 *
 * <p>A product of few output tiles may be split along K (descriptor field {@link #SPLITS} above 1): each work-group
 * then sums one part of K into its own slice of {@code scratch} and stops there, and {@link #splitEpilogue}, the
 * next task, adds the parts of each tile up and applies the same epilogue.
 */
public final class TensorCoreKernels {
    public static final int BLOCK_M = 128;
    public static final int BLOCK_N = 128;
    /** K per step: two m16n8k16 steps from one staged tile. */
    public static final int BLOCK_K = 32;
    public static final int THREADS = 256;
    /** Floats of scratch each work-group owns. */
    public static final int TILE_FLOATS = BLOCK_M * BLOCK_N;
    /** GEGLU: value columns per work-group (the other 64 are their gates). */
    public static final int GEGLU_COLUMNS = 64;
    /** Work-groups of {@link #splitEpilogue} per output tile: each of its threads finishes 4 accumulators. */
    public static final int EPILOGUE_GROUPS = TILE_FLOATS / (4 * THREADS);
    /** Accumulators of a tile (GEGLU: its values and their gates) that one work-group of {@link #splitEpilogue} finishes. */
    private static final int EPILOGUE_SLICE = TILE_FLOATS / EPILOGUE_GROUPS;

    public static final int MODE_LINEAR = 0;
    public static final int MODE_CONV = 1;

    /**
     * Fields of the descriptor at {@code sizes[meta]}. Sizes come from device memory rather than specialised
     * scalars (TornadoVM compiles scalar arguments in as constants) so that the K loop is not unrolled; only
     * the mode is a scalar, which removes the other mode's loaders from the kernel.
     */
    public static final int ROWS = 0;
    public static final int COLS = 1;
    public static final int K_TOTAL = 2;
    public static final int K_PADDED = 3;
    public static final int W_STRIDE = 4;
    public static final int ACT = 5;
    public static final int HALF_PADDED = 6;
    public static final int CIN = 7;
    public static final int IN_H = 8;
    public static final int IN_W = 9;
    public static final int OUT_W = 10;
    public static final int GEOM = 11;
    public static final int PADS = 12;
    public static final int ROW_BLOCKS = 13;
    public static final int COL_BLOCKS = 14;
    /** Images of a convolution (1 for a Linear); grid z is part x BATCH + image. */
    public static final int BATCH = 15;
    /** Parts K is split into (1: none), and the K each part sums ({@code SplitK}). */
    public static final int SPLITS = 16;
    public static final int K_CHUNK = 17;
    /**
     * The linear mode's strides: A's row stride (K where A's rows are packed), and the output's (its columns where
     * packed). A batched product (BATCH above 1 in the linear mode: the heads of an attention) adds image times
     * A_IMAGE, W_IMAGE and OUT_IMAGE to the offsets of A, B, and the output and residual.
     */
    public static final int A_STRIDE = 18;
    public static final int A_IMAGE = 19;
    public static final int W_IMAGE = 20;
    public static final int OUT_STRIDE = 21;
    public static final int OUT_IMAGE = 22;
    public static final int FIELDS = 23;

    /**
     * Fields of a product's own integer array ({@code args}, uploaded once): its operands' offsets and its descriptor's
     * place in {@code sizes}. {@link #splitEpilogue} and {@link TensorCoreAsyncGemm#gemm} read them there rather than as
     * scalars, which TornadoVM compiles into the kernel: on its CUDA backend every distinct source is a compilation of
     * its own (see {@link Storage}). {@link #gemm} still takes scalars (PTX only, where kernels are named after their
     * task).
     */
    public static final int ARG_X = 0;
    public static final int ARG_W = 1;
    public static final int ARG_BIAS = 2;
    public static final int ARG_RESIDUAL = 3;
    public static final int ARG_OUT = 4;
    public static final int ARG_META = 5;
    public static final int ARGS = 6;

    /** The most filter taps of a convolution this kernel takes: one bit each in a window's mask, and one left for {@link #NO_TAP}. */
    public static final int MAX_TAPS = 31;
    /** The tap of the im2col table's rows past K, which no window's mask holds. */
    public static final int NO_TAP = 31;

    static final int WARP = 32;
    static final int B_SUBTILE_BYTES = 256;
    /** K of one mma.sync; also the row width, in halves, of the staged 16x16 A blocks. */
    static final int MMA_K = 16;
    /** Bytes of one k half (16 of the 32 k) of the A or the B tile. */
    static final int HALF_TILE_BYTES = 4096;

    private TensorCoreKernels() {
    }

    public static void gemm(KernelContext ctx, HalfFloatArray f16, int halves, FloatArray x, int xOff, HalfFloatArray w, int wOff,
                            FloatArray bias, int bOff, FloatArray res, int rOff, FloatArray out, int oOff, FloatArray scratch,
                                    IntArray sizes, int meta, int mode) {
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
        // the image's A and B in the linear mode (both image offsets are 0 for a convolution, whose images are x's)
        int aBase = xOff + image * sizes.get(meta + A_IMAGE);
        int wBase = wOff + image * sizes.get(meta + W_IMAGE);
        int oImage = image * sizes.get(meta + OUT_IMAGE);

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

        // Each thread stages 8 packed pairs of A and 8 of B per k-step. They are loaded into registers one
        // step ahead (the loads of step k+1 are in flight while the tensor cores work on step k), in straight
        // code so that all 16 loads issue before the first is waited for. The loop starts one step early with
        // zero registers: its first tiles are zeros, which the tensor cores add harmlessly, so the loads appear
        // once in the code (TornadoVM compiles one kernel per task; kernel size is compile time).
        int a0 = 0;
        int a1 = 0;
        int a2 = 0;
        int a3 = 0;
        int a4 = 0;
        int a5 = 0;
        int a6 = 0;
        int a7 = 0;
        int b0 = 0;
        int b1 = 0;
        int b2 = 0;
        int b3 = 0;
        int b4 = 0;
        int b5 = 0;
        int b6 = 0;
        int b7 = 0;

        // A thread's B pairs of a convolution are two adjacent output pixels at 8 k rows of a step (im2colPair): the
        // pixels are the same in every step, so where their windows start and which of their filter taps fall inside
        // the image (one bit a tap) are worked out once here; a k row's channel and tap come from the descriptor's
        // im2col table. Dividing k by the filter size in the loop made integer arithmetic 80% of the kernel's
        // instructions, and the tensor cores 3%.
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
        int slot = bSlot(mode, tid);

        for (int k0 = kBegin - BLOCK_K; k0 < kEnd; k0 += BLOCK_K) {
            aTile[tid] = a0;
            aTile[tid + 256] = a1;
            aTile[tid + 512] = a2;
            aTile[tid + 768] = a3;
            aTile[tid + 1024] = a4;
            aTile[tid + 1280] = a5;
            aTile[tid + 1536] = a6;
            aTile[tid + 1792] = a7;
            bTile[slot] = b0;
            bTile[slot + bStep(mode, 1)] = b1;
            bTile[slot + bStep(mode, 2)] = b2;
            bTile[slot + bStep(mode, 3)] = b3;
            bTile[slot + bStep(mode, 4)] = b4;
            bTile[slot + bStep(mode, 5)] = b5;
            bTile[slot + bStep(mode, 6)] = b6;
            bTile[slot + bStep(mode, 7)] = b7;
            ctx.localBarrier();

            int kn = k0 + BLOCK_K;
            a0 = loadA(x, f16, xHalf, aBase, w, wBase, mode, tid, kn, row0, rows, kTotal, kp, lda);
            a1 = loadA(x, f16, xHalf, aBase, w, wBase, mode, tid + 256, kn, row0, rows, kTotal, kp, lda);
            a2 = loadA(x, f16, xHalf, aBase, w, wBase, mode, tid + 512, kn, row0, rows, kTotal, kp, lda);
            a3 = loadA(x, f16, xHalf, aBase, w, wBase, mode, tid + 768, kn, row0, rows, kTotal, kp, lda);
            a4 = loadA(x, f16, xHalf, aBase, w, wBase, mode, tid + 1024, kn, row0, rows, kTotal, kp, lda);
            a5 = loadA(x, f16, xHalf, aBase, w, wBase, mode, tid + 1280, kn, row0, rows, kTotal, kp, lda);
            a6 = loadA(x, f16, xHalf, aBase, w, wBase, mode, tid + 1536, kn, row0, rows, kTotal, kp, lda);
            a7 = loadA(x, f16, xHalf, aBase, w, wBase, mode, tid + 1792, kn, row0, rows, kTotal, kp, lda);
            if (mode == MODE_CONV) {
                b0 = im2colPair(x, f16, xHalf, xImage, sizes, table + 2 * (kn + kRow), base0, base1, taps0, taps1);
                b1 = im2colPair(x, f16, xHalf, xImage, sizes, table + 2 * (kn + kRow + 4), base0, base1, taps0, taps1);
                b2 = im2colPair(x, f16, xHalf, xImage, sizes, table + 2 * (kn + kRow + 8), base0, base1, taps0, taps1);
                b3 = im2colPair(x, f16, xHalf, xImage, sizes, table + 2 * (kn + kRow + 12), base0, base1, taps0, taps1);
                b4 = im2colPair(x, f16, xHalf, xImage, sizes, table + 2 * (kn + kRow + 16), base0, base1, taps0, taps1);
                b5 = im2colPair(x, f16, xHalf, xImage, sizes, table + 2 * (kn + kRow + 20), base0, base1, taps0, taps1);
                b6 = im2colPair(x, f16, xHalf, xImage, sizes, table + 2 * (kn + kRow + 24), base0, base1, taps0, taps1);
                b7 = im2colPair(x, f16, xHalf, xImage, sizes, table + 2 * (kn + kRow + 28), base0, base1, taps0, taps1);
            } else {
                b0 = weightPair(w, wBase, tid, kn, kp, ldw, col0, split, shift);
                b1 = weightPair(w, wBase, tid + 256, kn, kp, ldw, col0, split, shift);
                b2 = weightPair(w, wBase, tid + 512, kn, kp, ldw, col0, split, shift);
                b3 = weightPair(w, wBase, tid + 768, kn, kp, ldw, col0, split, shift);
                b4 = weightPair(w, wBase, tid + 1024, kn, kp, ldw, col0, split, shift);
                b5 = weightPair(w, wBase, tid + 1280, kn, kp, ldw, col0, split, shift);
                b6 = weightPair(w, wBase, tid + 1536, kn, kp, ldw, col0, split, shift);
                b7 = weightPair(w, wBase, tid + 1792, kn, kp, ldw, col0, split, shift);
            }

            for (int kHalf = 0; kHalf < 2; kHalf++) {
                int aOff = kHalf * HALF_TILE_BYTES + warpM * 1024;
                int bOff0 = kHalf * HALF_TILE_BYTES + warpN * 8 * B_SUBTILE_BYTES;
                HalfFloat[] fa0 = ctx.mmaLoadA(aTile, MMA_K, aOff);
                HalfFloat[] fa1 = ctx.mmaLoadA(aTile, MMA_K, aOff + 512);
                HalfFloat[] fb0 = ctx.mmaLoadB(bTile, MMA_K, bOff0);
                HalfFloat[] fb1 = ctx.mmaLoadB(bTile, MMA_K, bOff0 + B_SUBTILE_BYTES);
                HalfFloat[] fb2 = ctx.mmaLoadB(bTile, MMA_K, bOff0 + 2 * B_SUBTILE_BYTES);
                HalfFloat[] fb3 = ctx.mmaLoadB(bTile, MMA_K, bOff0 + 3 * B_SUBTILE_BYTES);
                HalfFloat[] fb4 = ctx.mmaLoadB(bTile, MMA_K, bOff0 + 4 * B_SUBTILE_BYTES);
                HalfFloat[] fb5 = ctx.mmaLoadB(bTile, MMA_K, bOff0 + 5 * B_SUBTILE_BYTES);
                HalfFloat[] fb6 = ctx.mmaLoadB(bTile, MMA_K, bOff0 + 6 * B_SUBTILE_BYTES);
                HalfFloat[] fb7 = ctx.mmaLoadB(bTile, MMA_K, bOff0 + 7 * B_SUBTILE_BYTES);
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

        if (splits == 1) {
            // the whole tile, in the slices the split epilogue's work-groups take
            int sBase = block * TILE_FLOATS;
            for (int slice = 0; slice < EPILOGUE_GROUPS; slice++) {
                if (mode == MODE_CONV) {
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

    /**
     * The epilogue of a product split along K: {@link #EPILOGUE_GROUPS} work-groups per output tile t (one of
     * ROW_BLOCKS x COL_BLOCKS x BATCH, in the order of {@link #gemm}'s blocks) add up the SPLITS partial tiles
     * {@link #gemm} left in {@code scratch} for their slice of tile t and store it as {@link #gemm} would have.
     * Launched right after it on the same descriptor, {@link #epilogueThreads} threads.
     *
     * <p>Each thread owns 4 accumulators of its slice (GEGLU: 2 values and their gates) and walks the parts once,
     * loading its 4 of a part together, so that each step has 4 independent loads in flight: with one work-group
     * per tile and every element's parts summed one after another, each thread waited on 64 x SPLITS dependent
     * round trips to L2, and the epilogues took 17% of a UNet call's device time on PTX.
     */
    public static void splitEpilogue(KernelContext ctx, HalfFloatArray f16, int halves, FloatArray bias, FloatArray res, FloatArray out,
                                     FloatArray scratch, IntArray sizes, IntArray args, int mode) {
        int bOff = args.get(ARG_BIAS);
        int rOff = args.get(ARG_RESIDUAL);
        int oOff = args.get(ARG_OUT);
        int meta = args.get(ARG_META);
        int rows = sizes.get(meta + ROWS);
        int cols = sizes.get(meta + COLS);
        int act = sizes.get(meta + ACT);
        int rowBlocks = sizes.get(meta + ROW_BLOCKS);
        int colBlocks = sizes.get(meta + COL_BLOCKS);
        int batch = sizes.get(meta + BATCH);
        int splits = sizes.get(meta + SPLITS);
        int ldo = sizes.get(meta + OUT_STRIDE);
        int tile = ctx.groupIdx / EPILOGUE_GROUPS;
        int group = ctx.groupIdx - tile * EPILOGUE_GROUPS;
        int perImage = rowBlocks * colBlocks;
        int image = tile / perImage;
        int within = tile - image * perImage;
        int by = within / rowBlocks;
        int bx = within - by * rowBlocks;
        int tid = ctx.localIdx;
        int row0 = bx * BLOCK_M;
        int sBase = tile * TILE_FLOATS;
        int stride = perImage * batch * TILE_FLOATS;
        if (mode == MODE_CONV) {
            finishConv(group, tid, f16, halves, bias, bOff, res, rOff, out, oOff, scratch, sBase, stride, splits, rows, cols, image, row0,
                    by * BLOCK_N);
        } else if (act == KernelMath.ACT_GEGLU) {
            finishGeglu(group, tid, f16, halves, bias, bOff, res, rOff, out, oOff, scratch, sBase, stride, splits, rows, cols, row0,
                    by * GEGLU_COLUMNS);
        } else {
            int oImage = image * sizes.get(meta + OUT_IMAGE);
            finishLinear(group, tid, f16, halves, bias, bOff, res, imageOffset(rOff, oImage), out, oOff + oImage, scratch, sBase, stride,
                    splits, rows, cols, ldo, row0, by * BLOCK_N, act);
        }
    }

    /** Threads of the {@link #splitEpilogue} of a product of {@code tiles} output tiles. */
    public static int epilogueThreads(int tiles) {
        return tiles * EPILOGUE_GROUPS * THREADS;
    }

    /**
     * Slice {@code slice} (of {@link #EPILOGUE_GROUPS}) of the fused epilogue of a 128x128 output tile whose accumulators
     * lie in {@code scratch} from {@code sBase}, as the sum of {@code splits} partial tiles {@code stride} floats apart:
     * thread {@code tid}'s elements e, e + 256, e + 512, e + 768 (two rows apart). One method per mode, each with one call
     * site of the epilogue: TornadoVM refuses to inline a callee of more than 600 Graal nodes.
     */
    static void finishConv(int slice, int tid, HalfFloatArray f16, int halves, FloatArray bias, int bOff, FloatArray res,
                                   int rOff, FloatArray out, int oOff, FloatArray scratch, int sBase, int stride, int splits, int rows,
                                   int cols, int image, int row0, int col0) {
        int e = slice * EPILOGUE_SLICE + tid;
        int at = sBase + e;
        sumParts(scratch, at, THREADS, 2 * THREADS, 3 * THREADS, stride, splits);
        int imageBase = image * rows * cols;
        int r = row0 + (e >> 7);
        int c = col0 + (e & 127);
        for (int i = 0; i < 4; i++) {
            GemmEpilogue.conv(f16, halves, bias, bOff, res, rOff, out, oOff, imageBase, rows, cols, r + 2 * i, c,
                    scratch.get(at + i * THREADS));
        }
    }

    /**
     * As {@link #finishConv} for a GEGLU Linear: the thread's values e and e + 256 of the tile's 128x64 values (four rows
     * apart; column c of the tile) and their gates at column c + 64.
     */
    static void finishGeglu(int slice, int tid, HalfFloatArray f16, int halves, FloatArray bias, int bOff, FloatArray res,
                                    int rOff, FloatArray out, int oOff, FloatArray scratch, int sBase, int stride, int splits, int rows,
                                    int cols, int row0, int col0) {
        int e = slice * EPILOGUE_SLICE / 2 + tid;
        int r = e >> 6;
        int c = e & 63;
        int at = sBase + r * BLOCK_N + c;
        sumParts(scratch, at, GEGLU_COLUMNS, 4 * BLOCK_N, 4 * BLOCK_N + GEGLU_COLUMNS, stride, splits);
        for (int i = 0; i < 2; i++) {
            int value = at + i * 4 * BLOCK_N;
            GemmEpilogue.geglu(f16, halves, bias, bOff, res, rOff, out, oOff, rows, cols, row0 + r + 4 * i, col0 + c, scratch.get(value),
                    scratch.get(value + GEGLU_COLUMNS));
        }
    }

    /** As {@link #finishConv} for a Linear with activation {@code act}, its output and residual rows {@code ldo} apart. */
    static void finishLinear(int slice, int tid, HalfFloatArray f16, int halves, FloatArray bias, int bOff, FloatArray res,
                                     int rOff, FloatArray out, int oOff, FloatArray scratch, int sBase, int stride, int splits, int rows,
                                     int cols, int ldo, int row0, int col0, int act) {
        int e = slice * EPILOGUE_SLICE + tid;
        int at = sBase + e;
        sumParts(scratch, at, THREADS, 2 * THREADS, 3 * THREADS, stride, splits);
        int r = row0 + (e >> 7);
        int c = col0 + (e & 127);
        for (int i = 0; i < 4; i++) {
            GemmEpilogue.linear(f16, halves, bias, bOff, res, rOff, out, oOff, rows, cols, ldo, r + 2 * i, c,
                    scratch.get(at + i * THREADS), act);
        }
    }

    /**
     * Adds parts 1 to {@code splits} - 1 of the 4 accumulators at {@code at}, {@code at + o1}, {@code at + o2} and
     * {@code at + o3} into part 0's, where the epilogue reads them: a thread's own elements, so no barrier is needed. The
     * 4 loads of a part go out together; nothing to do for an unsplit product.
     */
    private static void sumParts(FloatArray scratch, int at, int o1, int o2, int o3, int stride, int splits) {
        if (splits > 1) {
            float s0 = scratch.get(at);
            float s1 = scratch.get(at + o1);
            float s2 = scratch.get(at + o2);
            float s3 = scratch.get(at + o3);
            for (int s = 1; s < splits; s++) {
                int part = at + s * stride;
                s0 += scratch.get(part);
                s1 += scratch.get(part + o1);
                s2 += scratch.get(part + o2);
                s3 += scratch.get(part + o3);
            }
            scratch.set(at, s0);
            scratch.set(at + o1, s1);
            scratch.set(at + o2, s2);
            scratch.set(at + o3, s3);
        }
    }

    /** A residual's offset for the image {@code oImage} elements on; below 0 (no residual) stays so. */
    static int imageOffset(int rOff, int oImage) {
        return rOff >= 0 ? rOff + oImage : rOff;
    }

    /**
     * Packed F16 pair {@code idx} (0..2047) of the A tile of the k-step at k0: tile layout [k half][128 rows][8
     * pairs], the 16x16 blocks {@code ldmatrix} reads. 0 beyond the operand.
     *
     * <p>The loaders never branch around a load: an element outside the operand is read at a valid address
     * (the operand's first element) and replaced by 0 with a select. A load inside an {@code if} becomes its
     * own basic block, and the loads of a step then went out one after another instead of all at once.
     */
    static int loadA(FloatArray x, HalfFloatArray f16, boolean xHalf, int xOff, HalfFloatArray w, int wOff, int mode, int idx,
                             int k0, int row0, int rows, int kTotal, int kp, int lda) {
        int within = idx & 1023;
        int r = row0 + (within >> 3);
        int k = k0 + ((idx >> 10) << 4) + ((within & 7) << 1);
        int bits;
        if (mode == MODE_CONV) {
            boolean in = k < kp;
            int g = in ? wOff + r * kp + k : wOff;
            int pair = (w.get(g).getHalfFloatValue() & 0xFFFF) | ((w.get(g + 1).getHalfFloatValue() & 0xFFFF) << 16);
            bits = in ? pair : 0;
        } else {
            boolean row = r < rows;
            boolean in0 = row & (k < kTotal);
            boolean in1 = row & (k + 1 < kTotal);
            int g = xOff + r * lda + k;
            int lo = bits(x, f16, in0 ? g : xOff, xHalf);
            int hi = bits(x, f16, in1 ? g + 1 : xOff, xHalf);
            bits = (in0 ? lo : 0) | ((in1 ? hi : 0) << 16);
        }
        return bits;
    }

    /**
     * Packed F16 pair {@code idx} (0..2047) of the linear mode's B tile of the k-step at k0 (the weight, stored at
     * {@link #bSlot}): a pair of adjacent columns of one k row. 0 beyond the operand; no branches around loads (see
     * {@link #loadA}).
     */
    static int weightPair(HalfFloatArray w, int wOff, int idx, int k0, int kp, int ldw, int col0, int split, int shift) {
        int within = idx & 1023;
        int in = within & 63;
        int col = (within >> 6) * 8 + ((in & 3) << 1);
        int k = k0 + ((idx >> 10) << 4) + (in >> 2);
        int gcol = col >= split ? col0 + col + shift : col0 + col;
        boolean kIn = k < kp;
        int g = kIn ? wOff + k * ldw + gcol : wOff;
        int pair = (w.get(g).getHalfFloatValue() & 0xFFFF) | ((w.get(g + 1).getHalfFloatValue() & 0xFFFF) << 16);
        return kIn ? pair : 0;
    }

    /**
     * The convolution's B pair at the im2col row whose table entry is at {@code sizes[entry]} (the row's input offset
     * and filter tap, {@link #im2colTable}), under the thread's two output pixels, whose windows start at input
     * offsets base0 and base1 and whose taps inside the image are the bits of taps0 and taps1. Thread t takes the
     * pixel pair t % 64 at k rows t / 64 + 4i of a step, so consecutive threads read consecutive pixel pairs of one
     * k row (coalesced reads of x) and one table entry. 0 past kTotal (tap {@link #NO_TAP}), outside the image or
     * past the pixels; no branches around loads (see {@link #loadA}).
     */
    static int im2colPair(FloatArray x, HalfFloatArray f16, boolean xHalf, int xImage, IntArray sizes, int entry, int base0,
                                  int base1, int taps0, int taps1) {
        int offset = sizes.get(entry);
        int tap = sizes.get(entry + 1);
        boolean in0 = ((taps0 >> tap) & 1) != 0;
        boolean in1 = ((taps1 >> tap) & 1) != 0;
        int lo = bits(x, f16, in0 ? base0 + offset : xImage, xHalf);
        int hi = bits(x, f16, in1 ? base1 + offset : xImage, xHalf);
        return (in0 ? lo : 0) | ((in1 ? hi : 0) << 16);
    }

    /** Bit ky * kw + kx set where filter tap (ky, kx) of the window at input (iy, ix) lies inside the h x wd image. */
    static int tapMask(int iy, int ix, int kh, int kw, int h, int wd) {
        int mask = 0;
        for (int ky = 0; ky < kh; ky++) {
            for (int kx = 0; kx < kw; kx++) {
                boolean in = (iy + ky >= 0) & (iy + ky < h) & (ix + kx >= 0) & (ix + kx < wd);
                mask |= in ? 1 << (ky * kw + kx) : 0;
            }
        }
        return mask;
    }

    /**
     * The im2col table that follows a convolution's descriptor: for each k row up to kPadded plus one step (the loop
     * loads one step ahead), its input offset from a window's top-left, channel k / (kh kw) times the plane plus
     * tap row times the width plus tap column, then its tap k % (kh kw); rows past kTotal have tap {@link #NO_TAP},
     * which no window's mask holds. Filters of more than {@link #MAX_TAPS} taps are not taken by this kernel.
     */
    public static int[] im2colTable(int kTotal, int kPadded, int kh, int kw, int inH, int inW) {
        int khw = kh * kw;
        if (khw > MAX_TAPS || kPadded % BLOCK_K != 0 || kTotal > kPadded) {
            throw new IllegalArgumentException("no im2col table for a " + kh + "x" + kw + " filter, K " + kTotal + " padded to " + kPadded);
        }
        int[] t = new int[2 * (kPadded + BLOCK_K)];
        long plane = (long) inH * inW;
        for (int k = 0; k < kPadded + BLOCK_K; k++) {
            if (k < kTotal) {
                int tap = k % khw;
                long offset = k / khw * plane + (long) (tap / kw) * inW + tap % kw;
                t[2 * k] = Math.toIntExact(offset);
                t[2 * k + 1] = tap;
            } else {
                t[2 * k + 1] = NO_TAP;
            }
        }
        return t;
    }

    /**
     * Where thread {@code tid}'s first B pair goes in the tile [k half][16 sub-tiles of 8 columns][16 k rows][4 pairs];
     * its i-th goes {@link #bStep} further. The linear loader already walks that order; the convolution's walks
     * pixels fastest.
     */
    static int bSlot(int mode, int tid) {
        int slot = tid;
        if (mode == MODE_CONV) {
            slot = ((tid & 63) >> 2) * 64 + (tid >> 6) * 4 + (tid & 3);
        }
        return slot;
    }

    /** How far the slot of a thread's i-th B pair lies from its first ({@link #bSlot}); i is a constant at each use. */
    static int bStep(int mode, int i) {
        return mode == MODE_CONV ? (i >> 2) * 1024 + (i & 3) * 16 : i * 256;
    }

    /** F16 bits of x[i] (round to nearest even: {@code cvt.rn.f16.f32}). */
    static int half(FloatArray x, int i) {
        return new HalfFloat(x.get(i)).getHalfFloatValue() & 0xFFFF;
    }

    /** F16 bits of element i of an operand in F32 {@code x} or, where {@code half}, in F16 activations {@code f16}. */
    static int bits(FloatArray x, HalfFloatArray f16, int i, boolean half) {
        int b;
        if (half) {
            b = f16.get(i).getHalfFloatValue() & 0xFFFF;
        } else {
            b = half(x, i);
        }
        return b;
    }
}
