package io.jdiffusion.tornado;

import io.jdiffusion.tornado.kernels.TensorCoreAsyncGemm;
import io.jdiffusion.tornado.kernels.TensorCoreAttention;
import io.jdiffusion.tornado.kernels.TensorCoreKernels;

import java.lang.reflect.Method;

/**
 * Caps the registers of the tensor-core kernels on TornadoVM's CUDA backend, which builds its generated CUDA C with
 * NVRTC and passes it no options of the caller's (no {@code -maxrregcount}): a {@code __launch_bounds__} attribute in
 * the source, of the kernel's work-group size and a number of work-groups a multiprocessor, makes NVRTC fit the
 * kernel in 65536 / (threads x work-groups) registers a thread.
 * <ul>
 *   <li>The GEMM ({@link TensorCoreKernels#THREADS} threads, {@code gemmWorkGroupsPerSm}): 2 fit it in 128 registers
 *   where NVRTC took 168, one work-group per SM. On an H100 (2026-12-08, F16 at 512x512) that took the UNet call from
 *   51.3 to 49.9 ms and the VAE decode from 41.2 to 44.9 ms (docs/PERFORMANCE.md, "The tensor-core GEMM's launch
 *   bounds"): the UNet's calls outweigh the one decode.</li>
 *   <li>The flash attention ({@link TensorCoreAttention#THREADS} threads, {@code attentionWorkGroupsPerSm}, none by
 *   default): NVRTC gives it 126 registers, so 4 work-groups fit an SM already, and a bound of 4 changed nothing on
 *   an H100 (2026-12-08).</li>
 * </ul>
 * Every launch of these kernels is of their work-group size, so a bound never refuses one. A count of 1 leaves the
 * kernel to NVRTC. Sources of other kernels and other backends (OpenCL C) are left as they are.
 *
 * @param gemmWorkGroupsPerSm      {@link TornadoSettings#gemmWorkGroupsPerSm}
 * @param attentionWorkGroupsPerSm {@link TornadoSettings#attentionWorkGroupsPerSm}
 */
record LaunchBounds(int gemmWorkGroupsPerSm, int attentionWorkGroupsPerSm) {
    /** No bounds: every kernel as TornadoVM generated it. */
    static final LaunchBounds NONE = new LaunchBounds(1, 1);

    /** The bounds the settings ask for. */
    static LaunchBounds fromSettings() {
        return new LaunchBounds(TornadoSettings.gemmWorkGroupsPerSm(), TornadoSettings.attentionWorkGroupsPerSm());
    }

    /** {@code source} of {@code kernel} with its launch bounds, if it is the CUDA backend's source of a bounded kernel. */
    String apply(Method kernel, String source) {
        int threads;
        int workGroups;
        if (isTensorCoreGemm(kernel)) {
            threads = TensorCoreKernels.THREADS;
            workGroups = gemmWorkGroupsPerSm;
        } else if (SourceEdits.isFlashAttention(kernel)) {
            threads = TensorCoreAttention.THREADS;
            workGroups = attentionWorkGroupsPerSm;
        } else {
            return source;
        }
        String opening = SourceEdits.CUDA_KERNEL + kernel.getName() + "(";
        int at = source.indexOf(opening);
        if (workGroups <= 1 || at < 0) {
            return source;
        }
        return source.substring(0, at) + SourceEdits.CUDA_KERNEL + "__launch_bounds__(" + threads + ", " + workGroups + ") "
                + source.substring(at + SourceEdits.CUDA_KERNEL.length());
    }

    private static boolean isTensorCoreGemm(Method kernel) {
        Class<?> c = kernel.getDeclaringClass();
        return kernel.getName().equals("gemm") && (c == TensorCoreAsyncGemm.class || c == TensorCoreKernels.class);
    }
}
