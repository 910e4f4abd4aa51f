package io.jdiffusion.tornado.kernels;

import uk.ac.manchester.tornado.api.math.TornadoMath;

/**
 * Scalar math shared by the kernels; TornadoVM inlines these calls into each kernel. Only what the
 * device compilers translate is used here: basic arithmetic, {@code if}, and TornadoMath's exp/tanh/sin/cos.
 */
public final class KernelMath {
    /** Activation codes passed to kernels as constant scalars (TornadoVM specialises on them). */
    public static final int ACT_NONE = 0;
    public static final int ACT_SILU = 1;
    public static final int ACT_GELU = 2;
    public static final int ACT_GELU_TANH = 3;
    public static final int ACT_QUICK_GELU = 4;
    public static final int ACT_GEGLU = 5;

    /** Scores of masked keys: far below any real score, yet exp(masked - max) is exactly 0 without infinities. */
    public static final float MASKED = -1.0e30f;

    private KernelMath() {
    }

    public static float activate(float x, int act) {
        float y = x;
        if (act == ACT_SILU) {
            y = x / (1.0f + TornadoMath.exp(-x));
        } else if (act == ACT_GELU) {
            y = gelu(x);
        } else if (act == ACT_GELU_TANH) {
            y = 0.5f * x * (1.0f + TornadoMath.tanh(0.7978845608028654f * (x + 0.044715f * x * x * x)));
        } else if (act == ACT_QUICK_GELU) {
            y = x / (1.0f + TornadoMath.exp(-1.702f * x));
        }
        return y;
    }

    public static float silu(float x) {
        return x / (1.0f + TornadoMath.exp(-x));
    }

    /** Exact (erf) GELU, PyTorch's default. */
    public static float gelu(float x) {
        return 0.5f * x * (1.0f + erf(x * 0.7071067811865476f));
    }

    /**
     * erf by Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7), since no device library offers
     * erf through TornadoVM.
     */
    public static float erf(float x) {
        float a = x;
        float sign = 1.0f;
        if (x < 0.0f) {
            a = -x;
            sign = -1.0f;
        }
        float t = 1.0f / (1.0f + 0.3275911f * a);
        float poly = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t;
        return sign * (1.0f - poly * TornadoMath.exp(-a * a));
    }

    /**
     * The argument reduced to [-pi, pi] in two steps (Cody-Waite), so that sin/cos of timestep arguments
     * near 1000 stay accurate whatever range reduction the device's sin/cos does.
     */
    public static float reduceAngle(float x) {
        float k = TornadoMath.floor(x * 0.15915494309189535f + 0.5f);
        float r = x - k * 6.28125f;
        return r - k * 0.0019353071795864769f;
    }

    /**
     * n / d for 0 <= n < 2^21 and d >= 1, given {@code inverse}, an approximation of 1 / d within a few ulps (PTX
     * computes a float division as {@code div.full.f32}, 2 ulps): below 2^21 the float product is within one of the
     * quotient, and the two integer steps correct it. For the im2col indices of every pair loaded, where an integer
     * division by a divisor known only on the device takes tens of instructions.
     */
    public static int quotient(int n, int d, float inverse) {
        int q = (int) (n * inverse);
        q = q * d > n ? q - 1 : q;
        return (q + 1) * d <= n ? q + 1 : q;
    }
}
