package io.jdiffusion.tornado;

import io.jdiffusion.tornado.kernels.PointwiseKernels;
import io.jdiffusion.tornado.kernels.TensorCoreAsyncGemm;
import io.jdiffusion.tornado.kernels.TensorCoreAttention;
import io.jdiffusion.tornado.kernels.TensorCoreKernels;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Method;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/** The tensor-core kernels' launch bounds go into the CUDA backend's sources of those kernels only. */
class LaunchBoundsTest {
    private static final String CUDA = "#include <cuda_fp16.h>\nextern \"C\" __global__ void gemm(long *_kernel_context, char *_constant_region)\n{\n}\n";
    private static final String OPENCL = "#pragma OPENCL EXTENSION cl_khr_fp16 : enable\n__kernel void gemm(__global long *_kernel_context)\n{\n}\n";
    private static final String ATTENTION = CUDA.replace("gemm(", "attention(");

    @Test
    void theCudaGemmGetsBoundsOfItsWorkGroupAndTheWorkGroupsAsked() {
        for (Method gemm : new Method[] {method(TensorCoreAsyncGemm.class, "gemm"), method(TensorCoreKernels.class, "gemm")}) {
            assertThat(new LaunchBounds(2, 1).apply(gemm, CUDA)).isEqualTo(CUDA.replace("__global__ void gemm(",
                    "__global__ void __launch_bounds__(" + TensorCoreKernels.THREADS + ", 2) gemm("));
            assertThat(new LaunchBounds(3, 4).apply(gemm, CUDA)).contains("__launch_bounds__(256, 3) gemm(");
        }
    }

    @Test
    void theCudaAttentionGetsItsOwnBounds() {
        Method attention = method(TensorCoreAttention.class, "attention");
        assertThat(new LaunchBounds(2, 4).apply(attention, ATTENTION)).isEqualTo(ATTENTION.replace("__global__ void attention(",
                "__global__ void __launch_bounds__(" + TensorCoreAttention.THREADS + ", 4) attention("));
        assertThat(new LaunchBounds(2, 1).apply(attention, ATTENTION)).isEqualTo(ATTENTION);
    }

    @Test
    void otherKernelsOtherBackendsAndOneWorkGroupStayAsGenerated() {
        Method gemm = method(TensorCoreAsyncGemm.class, "gemm");
        assertThat(new LaunchBounds(1, 4).apply(gemm, CUDA)).isEqualTo(CUDA);
        assertThat(LaunchBounds.NONE.apply(gemm, CUDA)).isEqualTo(CUDA);
        assertThat(new LaunchBounds(2, 4).apply(gemm, OPENCL)).isEqualTo(OPENCL);
        Method fill = method(PointwiseKernels.class, "fill");
        String fillSource = CUDA.replace("gemm(", "fill(");
        assertThat(new LaunchBounds(2, 4).apply(fill, fillSource)).isEqualTo(fillSource);
    }

    private static Method method(Class<?> c, String name) {
        return Arrays.stream(c.getMethods()).filter(m -> m.getName().equals(name)).findFirst().orElseThrow();
    }
}
