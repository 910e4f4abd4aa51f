package io.jdiffusion.tornado;

import io.jdiffusion.tornado.kernels.NormKernels;
import io.jdiffusion.tornado.kernels.TensorCoreAttention;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Method;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/** The flash attention's exponentials become __expf in the CUDA backend's source of that kernel only. */
class SourceEditsTest {
    private static final String BODY = "{\n  float f_3 = exp(f_2);\n  float f_4 = ldexp(f_3, i_1);\n  float f_5 = frexp(f_4, &i_2);\n"
            + "  float f_6 = exp((f_5 - f_1));\n}\n";
    private static final String CUDA = "extern \"C\" __global__ void attention(long *_kernel_context)\n" + BODY;
    private static final String OPENCL = "__kernel void attention(__global long *_kernel_context)\n" + BODY;

    @Test
    void theCudaAttentionCallsExpfOnlyWhereItCalledExp() {
        String edited = new SourceEdits(LaunchBounds.NONE, true).apply(method(TensorCoreAttention.class, "attention"), CUDA);
        assertThat(edited).isEqualTo(CUDA.replace("= exp(", "= __expf("));
        assertThat(edited).contains("ldexp(f_3", "frexp(f_4").doesNotContain(" exp(");
    }

    @Test
    void boundsAndFastExpTogether() {
        String edited = new SourceEdits(new LaunchBounds(2, 4), true).apply(method(TensorCoreAttention.class, "attention"), CUDA);
        assertThat(edited).startsWith("extern \"C\" __global__ void __launch_bounds__(128, 4) attention(").contains("f_3 = __expf(f_2)");
    }

    @Test
    void otherKernelsOtherBackendsAndTheSettingOffStayAsGenerated() {
        Method attention = method(TensorCoreAttention.class, "attention");
        assertThat(new SourceEdits(LaunchBounds.NONE, false).apply(attention, CUDA)).isEqualTo(CUDA);
        assertThat(SourceEdits.NONE.apply(attention, CUDA)).isEqualTo(CUDA);
        assertThat(new SourceEdits(LaunchBounds.NONE, true).apply(attention, OPENCL)).isEqualTo(OPENCL);
        Method norm = Arrays.stream(NormKernels.class.getMethods()).filter(m -> m.getParameterCount() > 0).findFirst().orElseThrow();
        String normSource = CUDA.replace("attention(", norm.getName() + "(");
        assertThat(new SourceEdits(LaunchBounds.NONE, true).apply(norm, normSource)).isEqualTo(normSource);
    }

    private static Method method(Class<?> c, String name) {
        return Arrays.stream(c.getMethods()).filter(m -> m.getName().equals(name)).findFirst().orElseThrow();
    }
}
