package io.jdiffusion.cpu;

/**
 * Choices a backend makes for its kernels; fixed per backend. {@code winogradCacheBytes} bounds the
 * transformed filters one executable keeps (see {@link WinogradSelection}); {@code f32WeightsAsF16} packs
 * F32 weights as F16 panels (F16 and BF16 weights always stay 2 bytes).
 */
record KernelOptions(ConvAlgorithm convAlgorithm, long winogradChunkFloats, long winogradCacheBytes, boolean f32WeightsAsF16) {
    /** These options with the Winograd budget lowered to {@code bytes} where it is above it (never raised). */
    KernelOptions withWinogradCacheAtMost(long bytes) {
        return winogradCacheBytes <= bytes ? this
                : new KernelOptions(convAlgorithm, winogradChunkFloats, bytes, f32WeightsAsF16);
    }
}
