package io.jdiffusion.tornado;

import io.jdiffusion.tornado.kernels.TensorCoreKernels;

/**
 * How a tensor-core product is split along K: {@code splits} work-groups share each output tile, each summing
 * {@code chunk} of K (a multiple of {@link TensorCoreKernels#BLOCK_K}; the last part may be shorter) into its own
 * partial tile, which {@link TensorCoreKernels#splitEpilogue} adds up before the epilogue.
 *
 * <p>Why: a product with far fewer output tiles than the GPU has multiprocessors leaves most of them idle for its whole
 * K loop. On an H100 (132 multiprocessors) the UNet's 3x3 convolutions at the 8x8 level have 20 tiles of 128x128
 * and 360 steps of K each, and ran at 4 TFLOP/s against 28.8 at the 64x64 level (docs/PERFORMANCE.md).
 */
record SplitK(int splits, int chunk) {
    /** Fewer steps of K than this per part are not worth a partial tile's round trip through memory. */
    static final int MIN_STEPS_PER_SPLIT = 8;
    /** At most this many parts when choosing: each adds a 64 KiB partial tile per output tile to write and read back. */
    static final int MAX_CHOSEN_SPLITS = 16;
    /** Work-groups aimed at per multiprocessor: two of the GEMM's fit one (16 KiB of local memory, 256 threads each). */
    static final int GROUPS_PER_MULTIPROCESSOR = 2;
    /**
     * Products of more tiles than this share of the multiprocessors (in quarters) are not split. On an H100 (132), F16 3x3
     * convolutions: 80 tiles in 3 parts took 0.385 ms against 0.461 unsplit, 128 tiles (the VAE's 512 channels at 64x64)
     * in 2 parts 0.437 ms against 0.394 unsplit: with a tile for nearly every multiprocessor the partial tiles' round
     * trip costs more than the second work-group per multiprocessor gains (docs/PERFORMANCE.md).
     */
    static final int SPLIT_BELOW_QUARTERS = 3;

    /** No split: one part of all of K. */
    static SplitK none(int kPadded) {
        return new SplitK(1, kPadded);
    }

    /**
     * The split of a product of {@code tiles} output tiles and {@code kPadded} K (a multiple of BLOCK_K) on a device
     * of {@code multiprocessors}: {@code setting} 1 never splits; 2 and up asks for that many parts; 0 splits only a
     * product of at most {@value #SPLIT_BELOW_QUARTERS} quarters as many tiles as multiprocessors, into as many parts as
     * fit one wave of {@value #GROUPS_PER_MULTIPROCESSOR} work-groups per multiprocessor, each of at least
     * {@value #MIN_STEPS_PER_SPLIT} steps of K, at most {@value #MAX_CHOSEN_SPLITS}. Parts are equal multiples of BLOCK_K,
     * so there may be fewer than asked for.
     */
    static SplitK choose(int tiles, int kPadded, int multiprocessors, int setting) {
        if (tiles < 1 || kPadded < TensorCoreKernels.BLOCK_K || kPadded % TensorCoreKernels.BLOCK_K != 0) {
            throw new IllegalArgumentException("a split needs tiles >= 1 and K a positive multiple of " + TensorCoreKernels.BLOCK_K
                    + ", got " + tiles + " tiles and K " + kPadded);
        }
        int steps = kPadded / TensorCoreKernels.BLOCK_K;
        int wanted;
        if (setting == 0) {
            if (4L * tiles > (long) SPLIT_BELOW_QUARTERS * multiprocessors) {
                return none(kPadded);
            }
            // as many parts as fit one wave: a part more would start a second wave of few work-groups
            int oneWave = GROUPS_PER_MULTIPROCESSOR * multiprocessors / tiles;
            wanted = Math.min(Math.min(oneWave, steps / MIN_STEPS_PER_SPLIT), MAX_CHOSEN_SPLITS);
        } else {
            wanted = Math.min(setting, steps);
        }
        if (wanted < 2) {
            return none(kPadded);
        }
        int chunkSteps = ceilDiv(steps, wanted);
        return new SplitK(ceilDiv(steps, chunkSteps), chunkSteps * TensorCoreKernels.BLOCK_K);
    }

    boolean split() {
        return splits > 1;
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }
}
