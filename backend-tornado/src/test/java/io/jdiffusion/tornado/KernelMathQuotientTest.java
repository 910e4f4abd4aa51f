package io.jdiffusion.tornado;

import io.jdiffusion.tornado.kernels.KernelMath;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link KernelMath#quotient}, as the tensor-core convolution's im2col loader uses it, against Java's integer division:
 * every n below its bound of 2^21, with 1 / d rounded as Java does and moved by up to 3 ulps either way (PTX's
 * {@code div.full.f32} is within 2). Host-side; the kernel compiles the same method.
 */
class KernelMathQuotientTest {
    private static final int BOUND = 1 << 21;

    /** The divisors a convolution meets (filter areas and widths) and a few beyond. */
    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 5, 7, 9, 16, 25, 49, 63, 64, 121})
    void isExactBelowItsBoundWhateverTheInverseRounding(int d) {
        float inverse = 1.0f / d;
        for (int ulps = -3; ulps <= 3; ulps++) {
            float moved = inverse;
            for (int u = 0; u < Math.abs(ulps); u++) {
                moved = ulps > 0 ? Math.nextUp(moved) : Math.nextDown(moved);
            }
            int wrong = -1;
            for (int n = 0; n < BOUND && wrong < 0; n++) {
                if (KernelMath.quotient(n, d, moved) != n / d) {
                    wrong = n;
                }
            }
            assertThat(wrong).as("first n where quotient(n, %d) is off, 1/d moved by %d ulps", d, ulps).isEqualTo(-1);
        }
    }
}
