package io.jdiffusion.cpu;

import io.jdiffusion.backend.graph.Activation;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

import static io.jdiffusion.cpu.CpuVectors.F;
import static io.jdiffusion.cpu.CpuVectors.L;

/**
 * The activations of the GEMM epilogue ({@link GemmOutput}), applied in place to a register tile's array,
 * one loop per activation, so that no vector crosses a call that C2 might not inline.
 *
 * <p>Why not {@code ActivationMath}: measured with {@code -XX:+PrintInlining} on this JDK (25), a method
 * that inlines {@code ActivationMath.gelu} (even {@code erfcOfAbs} compiled on its own) passes C2's
 * node-count cutoff (the Vector API's Java bodies parse into many nodes before they are intrinsified) and
 * leaves {@code VectorMath.pow2} as a real call, which boxes its vectors: a GELU epilogue cost 8.8 ns per
 * output element (a M=1024 K=640 N=2560 linear layer took 1.54x the time of the same layer without
 * activation). Here the exponent is read from the bits of the rounded sum (n + 1.5 * 2^23) instead of
 * {@code convert(F2I)}, the same integer, and 2^n is written in place, which C2 parses into fewer nodes;
 * every value is bit for bit {@code ActivationMath}'s (checked by {@code FusedActivationTest}) while each
 * loop compiles whole.
 */
final class FusedActivation {
    private static final float SQRT_HALF = (float) Math.sqrt(0.5);
    private static final float SQRT_2_OVER_PI = (float) Math.sqrt(2 / Math.PI);
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    private static final int ROUNDER_BITS = Float.floatToRawIntBits(VectorMath.ROUNDER);

    private FusedActivation() {
    }

    /** act over a[0, n) in place (n a multiple of the vector length); GEGLU goes through {@link #geglu}. */
    static void apply(Activation act, float[] a, int n) {
        switch (act) {
            case NONE -> {
            }
            case SILU -> silu(a, n);
            case GELU -> gelu(a, n);
            case GELU_TANH -> geluTanh(a, n);
            case QUICK_GELU -> quickGelu(a, n);
            case GEGLU -> throw new IllegalArgumentException("GEGLU pairs two halves of a tile row: use geglu");
        }
    }

    /**
     * For each of {@code rows} tile rows (stride {@code stride}): tile[t, t + L) = (h + hBias) * gelu(gate +
     * gateBias), h at tile[t], the gate at tile[t + L]; the biases from bias[hBias] and bias[gateBias] (none
     * when {@code bias} is null).
     */
    static void geglu(float[] tile, int rows, int stride, float[] bias, int hBias, int gateBias) {
        FloatVector bh = bias == null ? FloatVector.zero(F) : FloatVector.fromArray(F, bias, hBias);
        FloatVector bg = bias == null ? FloatVector.zero(F) : FloatVector.fromArray(F, bias, gateBias);
        for (int r = 0, t = 0; r < rows; r++, t += stride) {
            FloatVector h = FloatVector.fromArray(F, tile, t).add(bh);
            FloatVector g = FloatVector.fromArray(F, tile, t + L).add(bg);
            h.mul(gelu(g)).intoArray(tile, t);
        }
    }

    private static void silu(float[] a, int n) {
        for (int i = 0; i < n; i += L) {
            FloatVector x = FloatVector.fromArray(F, a, i);
            x.div(exp(x.neg()).add(1f)).intoArray(a, i);
        }
    }

    private static void quickGelu(float[] a, int n) {
        for (int i = 0; i < n; i += L) {
            FloatVector x = FloatVector.fromArray(F, a, i);
            x.div(exp(x.mul(-1.702f)).add(1f)).intoArray(a, i);
        }
    }

    private static void gelu(float[] a, int n) {
        for (int i = 0; i < n; i += L) {
            gelu(FloatVector.fromArray(F, a, i)).intoArray(a, i);
        }
    }

    private static void geluTanh(float[] a, int n) {
        for (int i = 0; i < n; i += L) {
            FloatVector x = FloatVector.fromArray(F, a, i);
            FloatVector inner = x.mul(x).mul(0.044715f).add(1f).mul(x).mul(SQRT_2_OVER_PI);
            x.mul(0.5f).mul(tanh(inner).add(1f)).intoArray(a, i);
        }
    }

    /** The tests' {@code ActivationMath.gelu}, operation for operation: 0.5 x (1 + erf(x / sqrt 2)) through erfc(|z|). */
    private static FloatVector gelu(FloatVector x) {
        FloatVector z = x.mul(SQRT_HALF);
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
        FloatVector c = t.mul(exp(p.sub(a.mul(a))));
        FloatVector onePlusErf = c.neg().add(2f).blend(c, z.lt(0f));
        return x.mul(0.5f).mul(onePlusErf);
    }

    /**
     * tanh(x) lane by lane: Cephes' tanhf polynomial for |x| < 0.625, sign(x) (1 - 2 / (e^{2|x|} + 1))
     * above; NaN stays NaN.
     */
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
        return large.blend(small, a.lt(0.625f)); // below 0.625 the subtraction would cancel
    }

    /**
     * {@link VectorMath#exp}'s operations, with n taken from the bits of c * log2(e) + 1.5 * 2^23 (the
     * rounded sum holds n in its low mantissa bits, |n| <= 160) instead of converting n back to int.
     */
    private static FloatVector exp(FloatVector x) {
        FloatVector c = x.max(-110f).min(89f); // NaN passes through max/min unchanged
        FloatVector rounded = c.fma(VectorMath.LOG2E, VectorMath.ROUNDER);
        FloatVector n = rounded.sub(VectorMath.ROUNDER);
        FloatVector r = n.fma(FloatVector.broadcast(F, -LN2_HI), c);
        r = n.fma(FloatVector.broadcast(F, -LN2_LO), r);
        FloatVector p = r.fma(1.9875691500e-4f, 1.3981999507e-3f);
        p = p.fma(r, FloatVector.broadcast(F, 8.3334519073e-3f));
        p = p.fma(r, FloatVector.broadcast(F, 4.1665795894e-2f));
        p = p.fma(r, FloatVector.broadcast(F, 1.6666665459e-1f));
        p = p.fma(r, FloatVector.broadcast(F, 5.0000001201e-1f));
        FloatVector y = p.mul(r.mul(r)).add(r).add(1f);
        IntVector ni = ((IntVector) rounded.reinterpretAsInts()).sub(ROUNDER_BITS);
        IntVector half = ni.lanewise(VectorOperators.ASHR, 1);
        FloatVector lo = (FloatVector) half.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector hi = (FloatVector) ni.sub(half).add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return y.mul(lo).mul(hi);
    }
}
