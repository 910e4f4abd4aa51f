package io.jdiffusion.cpu;

import io.jdiffusion.backend.graph.Activation;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

import static io.jdiffusion.cpu.CpuVectors.F;

/**
 * Pointwise activations as functions of one vector: the definition whose bits {@link FusedActivation}'s loops
 * must reproduce ({@code FusedActivationTest}), kept with the tests because no kernel calls it. exp is
 * {@link VectorMath#exp}'s operations on one vector (with 2^n from {@code convert(F2I)}, the same integer that
 * VectorMath reads from the rounded sum's bits); tanh and erf are computed from it below.
 *
 * <p>Kernels do not call these per vector: C2 often leaves such a call (or the exp inside it) out of line,
 * and then every vector crossing it is boxed (measured 2026-12-05, one thread: a standalone GELU over
 * 4096 x 640 elements took 27 ms this way and 7.9 ms through {@link FusedActivation}).
 */
final class ActivationMath {
    private static final float SQRT_HALF = (float) Math.sqrt(0.5);
    private static final float SQRT_2_OVER_PI = (float) Math.sqrt(2 / Math.PI);

    private ActivationMath() {
    }

    /** {@code act(x)} for every activation except GEGLU, which takes two operands ({@link #geglu}). */
    static FloatVector apply(Activation act, FloatVector x) {
        return switch (act) {
            case NONE -> x;
            case SILU -> silu(x);
            case GELU -> gelu(x);
            case GELU_TANH -> geluTanh(x);
            case QUICK_GELU -> quickGelu(x);
            case GEGLU -> throw new IllegalArgumentException("GEGLU takes two operands");
        };
    }

    static FloatVector quickGelu(FloatVector x) {
        return x.div(exp(x.mul(-1.702f)).add(1f));
    }

    static FloatVector silu(FloatVector x) {
        return x.div(exp(x.neg()).add(1f));
    }

    /**
     * Exact GELU: 0.5 x (1 + erf(x / sqrt 2)). 1 + erf(z) is taken as 2 - erfc(|z|) for z >= 0 and as
     * erfc(|z|) for z < 0, so the negative tail keeps its relative accuracy instead of cancelling.
     */
    static FloatVector gelu(FloatVector x) {
        FloatVector z = x.mul(SQRT_HALF);
        FloatVector c = erfcOfAbs(z);
        FloatVector onePlusErf = c.neg().add(2f).blend(c, z.lt(0f));
        return x.mul(0.5f).mul(onePlusErf);
    }

    static FloatVector geluTanh(FloatVector x) {
        FloatVector inner = x.mul(x).mul(0.044715f).add(1f).mul(x).mul(SQRT_2_OVER_PI);
        return x.mul(0.5f).mul(tanh(inner).add(1f));
    }

    /** Cephes' tanhf polynomial for |x| < 0.625, sign(x) (1 - 2 / (e^{2|x|} + 1)) above; NaN stays NaN. */
    static FloatVector tanh(FloatVector x) {
        FloatVector a = x.abs();
        FloatVector z = x.mul(x);
        FloatVector p = z.fma(-5.70498872745e-3f, 2.06390887954e-2f);
        p = p.fma(z, FloatVector.broadcast(F, -5.37397155531e-2f));
        p = p.fma(z, FloatVector.broadcast(F, 1.33314422036e-1f));
        p = p.fma(z, FloatVector.broadcast(F, -3.33332819422e-1f));
        FloatVector small = p.mul(z).fma(x, x);
        FloatVector large = FloatVector.broadcast(F, 1f).sub(FloatVector.broadcast(F, 2f).div(exp(a.add(a)).add(1f)));
        large = large.blend(large.neg(), x.lt(0f));
        return large.blend(small, a.lt(0.625f));
    }

    /** GEGLU's gated product h * gelu(gate). */
    static FloatVector geglu(FloatVector h, FloatVector gate) {
        return h.mul(gelu(gate));
    }

    /**
     * erfc(|z|) = t exp(-z^2 + P(t)), t = 1 / (1 + |z|/2): the Chebyshev fit given in Numerical Recipes,
     * with fractional error below 1.2e-7 for every z; in float arithmetic it stays within a few units in
     * the last place.
     */
    static FloatVector erfcOfAbs(FloatVector z) {
        FloatVector a = z.abs();
        FloatVector t = FloatVector.broadcast(F, 1f).div(a.mul(0.5f).add(1f));
        FloatVector p = t.mul(0.17087277f).add(-0.82215223f);
        p = p.mul(t).add(1.48851587f);
        p = p.mul(t).add(-1.13520398f);
        p = p.mul(t).add(0.27886807f);
        p = p.mul(t).add(-0.18628806f);
        p = p.mul(t).add(0.09678418f);
        p = p.mul(t).add(0.37409196f);
        p = p.mul(t).add(1.00002368f);
        p = p.mul(t).add(-1.26551223f);
        return t.mul(exp(p.sub(a.mul(a))));
    }

    /** e^x lane by lane: {@link VectorMath#exp}'s operations, as a function of one vector. */
    static FloatVector exp(FloatVector x) {
        FloatVector c = x.max(-110f).min(89f); // NaN passes through max/min unchanged
        FloatVector n = c.fma(VectorMath.LOG2E, VectorMath.ROUNDER).sub(VectorMath.ROUNDER);
        FloatVector r = n.fma(FloatVector.broadcast(F, -0.693359375f), c);
        r = n.fma(FloatVector.broadcast(F, 2.12194440e-4f), r);
        FloatVector p = r.fma(1.9875691500e-4f, 1.3981999507e-3f);
        p = p.fma(r, FloatVector.broadcast(F, 8.3334519073e-3f));
        p = p.fma(r, FloatVector.broadcast(F, 4.1665795894e-2f));
        p = p.fma(r, FloatVector.broadcast(F, 1.6666665459e-1f));
        p = p.fma(r, FloatVector.broadcast(F, 5.0000001201e-1f));
        FloatVector y = p.mul(r.mul(r)).add(r).add(1f);
        IntVector ni = (IntVector) n.convert(VectorOperators.F2I, 0);
        IntVector half = ni.lanewise(VectorOperators.ASHR, 1);
        return y.mul(pow2(half)).mul(pow2(ni.sub(half)));
    }

    /** 2^k for integer lanes k in [-126, 127], from the exponent bits. */
    private static FloatVector pow2(IntVector k) {
        return (FloatVector) k.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
    }
}
