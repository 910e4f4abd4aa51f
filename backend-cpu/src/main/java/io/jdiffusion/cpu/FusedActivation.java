package io.jdiffusion.cpu;

import io.jdiffusion.backend.graph.Activation;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

import static io.jdiffusion.cpu.CpuVectors.F;
import static io.jdiffusion.cpu.CpuVectors.L;

/**
 * The activations of the GEMM epilogue ({@link GemmOutput}), applied in place to a register tile's array,
 * so that no vector crosses a call that C2 might not inline: every method here takes and returns arrays. An
 * activation that needs an exponential runs in passes over the tile: its exponents into a per-thread array,
 * {@link #exp} over that array, then the rest.
 *
 * <p>Why not {@code ActivationMath}: measured with {@code -XX:+PrintInlining} on this JDK (25), a method
 * that inlines {@code ActivationMath.gelu} (even {@code erfcOfAbs} compiled on its own) passes C2's
 * node-count cutoff (the Vector API's Java bodies parse into many nodes before they are intrinsified) and
 * leaves {@code VectorMath.pow2} as a real call, which boxes its vectors: a GELU epilogue cost 8.8 ns per
 * output element (a M=1024 K=640 N=2560 linear layer took 1.54x the time of the same layer without
 * activation). Here the exponent is read from the bits of the rounded sum (n + 1.5 * 2^23) instead of
 * {@code convert(F2I)}, the same integer, and 2^n is written in place, which C2 parses into fewer nodes;
 * every value is bit for bit {@code ActivationMath}'s (checked by {@code FusedActivationTest}). Helpers that
 * took a vector (gelu, tanh, exp) were still declined by C2 in some JVMs: forced out of line, GELU's cost an SD
 * 1.5 UNet call at 256x256 278 MB of boxed vectors (docs/PERFORMANCE.md, the Zen 4 sitting of 2026-12-06).
 */
final class FusedActivation {
    private static final float SQRT_HALF = (float) Math.sqrt(0.5);
    private static final float SQRT_2_OVER_PI = (float) Math.sqrt(2 / Math.PI);
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    private static final int ROUNDER_BITS = Float.floatToRawIntBits(VectorMath.ROUNDER);
    /** Each thread's GEGLU gates, or GELU-tanh's argument: the values an activation is taken of, apart from the tile. */
    private static final ThreadScratch ARGUMENTS = new ThreadScratch();
    /** Each thread's exponents, turned into exponentials in place by {@link #exp}. */
    private static final ThreadScratch EXPONENTS = new ThreadScratch();
    /** Each thread's GELU t = 1 / (1 + |z| / 2), from the pass before the exponentials to the pass after. */
    private static final ThreadScratch ERFC_T = new ThreadScratch();

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
        float[] gates = ARGUMENTS.floats(rows * L);
        FloatVector bg = bias == null ? FloatVector.zero(F) : FloatVector.fromArray(F, bias, gateBias);
        for (int r = 0, t = 0; r < rows; r++, t += stride) {
            FloatVector.fromArray(F, tile, t + L).add(bg).intoArray(gates, r * L);
        }
        gelu(gates, rows * L);
        FloatVector bh = bias == null ? FloatVector.zero(F) : FloatVector.fromArray(F, bias, hBias);
        for (int r = 0, t = 0; r < rows; r++, t += stride) {
            FloatVector h = FloatVector.fromArray(F, tile, t).add(bh);
            h.mul(FloatVector.fromArray(F, gates, r * L)).intoArray(tile, t);
        }
    }

    /** x / (1 + e^-x). */
    private static void silu(float[] a, int n) {
        xOverOnePlusExp(a, n, -1f);
    }

    /** x / (1 + e^(-1.702 x)). */
    private static void quickGelu(float[] a, int n) {
        xOverOnePlusExp(a, n, -1.702f);
    }

    /** x / (1 + e^(k x)) over a[0, n) in place: SiLU (k = -1; -1 x is exactly -x) and quick GELU. */
    private static void xOverOnePlusExp(float[] a, int n, float k) {
        float[] e = EXPONENTS.floats(n);
        for (int i = 0; i < n; i += L) {
            FloatVector.fromArray(F, a, i).mul(k).intoArray(e, i);
        }
        exp(e, n);
        for (int i = 0; i < n; i += L) {
            FloatVector.fromArray(F, a, i).div(FloatVector.fromArray(F, e, i).add(1f)).intoArray(a, i);
        }
    }

    /**
     * The tests' {@code ActivationMath.gelu}, operation for operation: 0.5 x (1 + erf(x / sqrt 2)) through
     * erfc(|z|) = t e^(P(t) - z^2); t is kept beside the exponents, so that its division is done once.
     */
    private static void gelu(float[] a, int n) {
        float[] e = EXPONENTS.floats(n);
        float[] ts = ERFC_T.floats(n);
        for (int i = 0; i < n; i += L) {
            FloatVector z = FloatVector.fromArray(F, a, i).mul(SQRT_HALF);
            FloatVector abs = z.abs();
            FloatVector t = FloatVector.broadcast(F, 1f).div(abs.mul(0.5f).add(1f));
            t.intoArray(ts, i);
            FloatVector p = t.mul(0.17087277f).add(-0.82215223f);
            p = p.mul(t).add(1.48851587f);
            p = p.mul(t).add(-1.13520398f);
            p = p.mul(t).add(0.27886807f);
            p = p.mul(t).add(-0.18628806f);
            p = p.mul(t).add(0.09678418f);
            p = p.mul(t).add(0.37409196f);
            p = p.mul(t).add(1.00002368f);
            p = p.mul(t).add(-1.26551223f);
            p.sub(abs.mul(abs)).intoArray(e, i);
        }
        exp(e, n);
        for (int i = 0; i < n; i += L) {
            FloatVector x = FloatVector.fromArray(F, a, i);
            FloatVector z = x.mul(SQRT_HALF);
            FloatVector c = FloatVector.fromArray(F, ts, i).mul(FloatVector.fromArray(F, e, i));
            FloatVector onePlusErf = c.neg().add(2f).blend(c, z.lt(0f));
            x.mul(0.5f).mul(onePlusErf).intoArray(a, i);
        }
    }

    /** 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))). */
    private static void geluTanh(float[] a, int n) {
        float[] inner = ARGUMENTS.floats(n);
        for (int i = 0; i < n; i += L) {
            FloatVector x = FloatVector.fromArray(F, a, i);
            x.mul(x).mul(0.044715f).add(1f).mul(x).mul(SQRT_2_OVER_PI).intoArray(inner, i);
        }
        tanh(inner, n);
        for (int i = 0; i < n; i += L) {
            FloatVector x = FloatVector.fromArray(F, a, i);
            x.mul(0.5f).mul(FloatVector.fromArray(F, inner, i).add(1f)).intoArray(a, i);
        }
    }

    /**
     * tanh over a[0, n) in place: Cephes' tanhf polynomial for |x| < 0.625, sign(x) (1 - 2 / (e^{2|x|} + 1))
     * above; NaN stays NaN.
     */
    static void tanh(float[] a, int n) {
        float[] e = EXPONENTS.floats(n);
        for (int i = 0; i < n; i += L) {
            FloatVector abs = FloatVector.fromArray(F, a, i).abs();
            abs.add(abs).intoArray(e, i);
        }
        exp(e, n);
        for (int i = 0; i < n; i += L) {
            FloatVector x = FloatVector.fromArray(F, a, i);
            FloatVector abs = x.abs();
            FloatVector z = x.mul(x);
            FloatVector p = z.fma(-5.70498872745e-3f, 2.06390887954e-2f);
            p = p.fma(z, FloatVector.broadcast(F, -5.37397155531e-2f));
            p = p.fma(z, FloatVector.broadcast(F, 1.33314422036e-1f));
            p = p.fma(z, FloatVector.broadcast(F, -3.33332819422e-1f));
            FloatVector small = p.mul(z).fma(x, x);
            FloatVector large = FloatVector.broadcast(F, 1f).sub(FloatVector.broadcast(F, 2f).div(FloatVector.fromArray(F, e, i).add(1f)));
            large = large.blend(large.neg(), x.lt(0f));
            large.blend(small, abs.lt(0.625f)).intoArray(a, i); // below 0.625 the subtraction would cancel
        }
    }

    /**
     * e^x over a[0, n) in place: {@link VectorMath#exp}'s operations, with n taken from the bits of c * log2(e) +
     * 1.5 * 2^23 (the rounded sum holds n in its low mantissa bits, |n| <= 160) instead of converting n back to int.
     */
    private static void exp(float[] a, int count) {
        for (int i = 0; i < count; i += L) {
            FloatVector c = FloatVector.fromArray(F, a, i).max(-110f).min(89f); // NaN passes through max/min unchanged
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
            y.mul(lo).mul(hi).intoArray(a, i);
        }
    }
}
