package io.jdiffusion.cpu;

/** How 3x3 stride-1 convolutions run: chosen per layer ({@link #AUTO}) or forced, for benchmarks side by side. */
enum ConvAlgorithm {
    /** Winograd F(4x4, 3x3) for 3x3 stride-1 layers large enough to profit, im2col GEMM otherwise. */
    AUTO,
    /** Winograd wherever the kernel is 3x3 with stride 1. */
    WINOGRAD,
    /** The im2col GEMM path for every convolution. */
    IM2COL
}
