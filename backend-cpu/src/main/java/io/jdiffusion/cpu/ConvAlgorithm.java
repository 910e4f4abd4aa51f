package io.jdiffusion.cpu;

/**
 * How 3x3 stride-1 convolutions run: chosen per layer ({@link #AUTO}, by {@link WinogradSelection}) or forced,
 * for benchmarks and tests side by side.
 */
enum ConvAlgorithm {
    /** Winograd F(4x4) or F(2x2) for 3x3 stride-1 layers large enough to profit, im2col GEMM otherwise. */
    AUTO,
    /** Winograd F(4x4, 3x3) wherever the kernel is 3x3 with stride 1. */
    WINOGRAD_F4,
    /** Winograd F(2x2, 3x3) wherever the kernel is 3x3 with stride 1. */
    WINOGRAD_F2,
    /** The im2col GEMM path for every convolution. */
    IM2COL
}
