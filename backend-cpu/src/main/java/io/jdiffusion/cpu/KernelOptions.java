package io.jdiffusion.cpu;

/**
 * Choices a backend makes for its kernels; fixed per backend. {@code winogradCacheBytes} bounds the
 * transformed filters one executable keeps (see {@link WinogradSelection}).
 */
record KernelOptions(ConvAlgorithm convAlgorithm, long winogradChunkFloats, long winogradCacheBytes) {
}
