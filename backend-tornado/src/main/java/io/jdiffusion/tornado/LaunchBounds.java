package io.jdiffusion.tornado;

import io.jdiffusion.tornado.kernels.TensorCoreAsyncGemm;
import io.jdiffusion.tornado.kernels.TensorCoreKernels;

import java.lang.reflect.Method;

/**
 * Caps the registers of the tensor-core GEMM on TornadoVM's CUDA backend, which builds its generated CUDA C with
 * NVRTC and passes it no options of the caller's (no {@code -maxrregcount}): a {@code __launch_bounds__} attribute in
 * the source, of {@link TensorCoreKernels#THREADS} threads and {@code workGroupsPerSm} work-groups a multiprocessor,
 * makes NVRTC fit the kernel in 65536 / (256 x 2) = 128 registers a thread where it took 168, one work-group per SM.
 * On an H100 (2026-12-08, F16 at 512x512) it took the UNet call from 51.3 to 49.9 ms and the VAE decode from 41.2 to
 * 44.9 ms (docs/PERFORMANCE.md, "The tensor-core GEMM's launch bounds"): the UNet's calls outweigh the one decode.
 * Every launch of the GEMM is of {@link TensorCoreKernels#THREADS} threads, so the bound never refuses one. Sources of
 * other kernels and other backends (OpenCL C) are left as they are.
 */
final class LaunchBounds {
    /** How TornadoVM's CUDA backend opens a kernel: the modifier, the return type and the name, then the parameters. */
    private static final String CUDA_KERNEL = "extern \"C\" __global__ void ";

    private LaunchBounds() {
    }

    /** {@code source} of {@code kernel} with its launch bounds, if it is the CUDA backend's tensor-core GEMM and {@code workGroupsPerSm} > 1. */
    static String apply(Method kernel, String source, int workGroupsPerSm) {
        if (workGroupsPerSm <= 1 || !isTensorCoreGemm(kernel)) {
            return source;
        }
        String opening = CUDA_KERNEL + kernel.getName() + "(";
        int at = source.indexOf(opening);
        if (at < 0) {
            return source;
        }
        return source.substring(0, at) + CUDA_KERNEL + "__launch_bounds__(" + TensorCoreKernels.THREADS + ", " + workGroupsPerSm + ") "
                + source.substring(at + CUDA_KERNEL.length());
    }

    private static boolean isTensorCoreGemm(Method kernel) {
        Class<?> c = kernel.getDeclaringClass();
        return kernel.getName().equals("gemm") && (c == TensorCoreAsyncGemm.class || c == TensorCoreKernels.class);
    }
}
