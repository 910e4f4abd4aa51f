package io.jdiffusion.cpu;

/** Choices a backend makes for its kernels; fixed per backend. */
record KernelOptions(ConvAlgorithm convAlgorithm, long winogradChunkFloats) {
}
