package io.jdiffusion.tornado;

import io.jdiffusion.tornado.kernels.PointwiseKernels;
import io.jdiffusion.tornado.kernels.TensorCoreAsyncGemm;
import io.jdiffusion.tornado.kernels.TensorCoreKernels;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Method;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/** The tensor-core GEMM's launch bounds go into the CUDA backend's source of that kernel only. */
class LaunchBoundsTest {
    private static final String CUDA = "#include <cuda_fp16.h>\nextern \"C\" __global__ void gemm(long *_kernel_context, char *_constant_region)\n{\n}\n";
    private static final String OPENCL = "#pragma OPENCL EXTENSION cl_khr_fp16 : enable\n__kernel void gemm(__global long *_kernel_context)\n{\n}\n";

    @Test
    void theCudaGemmGetsBoundsOfItsWorkGroupAndTheWorkGroupsAsked() {
        for (Method gemm : new Method[] {method(TensorCoreAsyncGemm.class, "gemm"), method(TensorCoreKernels.class, "gemm")}) {
            assertThat(LaunchBounds.apply(gemm, CUDA, 2)).isEqualTo(CUDA.replace("__global__ void gemm(",
                    "__global__ void __launch_bounds__(" + TensorCoreKernels.THREADS + ", 2) gemm("));
            assertThat(LaunchBounds.apply(gemm, CUDA, 3)).contains("__launch_bounds__(256, 3) gemm(");
        }
    }

    @Test
    void otherKernelsOtherBackendsAndOneWorkGroupStayAsGenerated() {
        Method gemm = method(TensorCoreAsyncGemm.class, "gemm");
        assertThat(LaunchBounds.apply(gemm, CUDA, 1)).isEqualTo(CUDA);
        assertThat(LaunchBounds.apply(gemm, OPENCL, 2)).isEqualTo(OPENCL);
        Method fill = method(PointwiseKernels.class, "fill");
        String fillSource = CUDA.replace("gemm(", "fill(");
        assertThat(LaunchBounds.apply(fill, fillSource, 2)).isEqualTo(fillSource);
    }

    private static Method method(Class<?> c, String name) {
        return Arrays.stream(c.getMethods()).filter(m -> m.getName().equals(name)).findFirst().orElseThrow();
    }
}
