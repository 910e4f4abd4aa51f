package io.jdiffusion.cpu;

import io.jdiffusion.backend.graph.Activation;
import jdk.incubator.vector.FloatVector;

import static io.jdiffusion.cpu.CpuVectors.F;
import static io.jdiffusion.cpu.CpuVectors.L;

/**
 * The activations of the GEMM epilogue ({@link GemmOutput}), applied in place to a register tile's array,
 * so that no vector crosses a call that C2 might not inline: every method here takes and returns arrays. An
 * activation that needs an exponential runs in passes over the tile: its exponents into a per-thread array,
 * {@link VectorMath#exp} over that array, then the rest. Every constant is a vector made before its loop: an
 * operation with a scalar operand broadcasts it on each use, and where C2 leaves that broadcast out of line each
 * one allocates (as {@link VectorMath#exp2NonPositive}'s did, 216 MB per SD 1.5 UNet call at 512x512).
 *
 * <p>Why not {@code ActivationMath} (the tests' functions of one vector, whose bits these loops reproduce, checked by
 * {@code FusedActivationTest}): measured with {@code -XX:+PrintInlining} on this JDK (25), a method that inlines
 * {@code ActivationMath.gelu} passes C2's node-count cutoff (the Vector API's Java bodies parse into many nodes
 * before they are intrinsified) and leaves its 2^n helper as a real call, which boxes its vectors: a GELU epilogue
 * cost 8.8 ns per output element (a M=1024 K=640 N=2560 linear layer took 1.54x the time of the same layer without
 * activation). Helpers that took a vector (gelu, tanh, exp) were still declined by C2 in some JVMs: forced out of
 * line, GELU's cost an SD 1.5 UNet call at 256x256 278 MB of boxed vectors (docs/PERFORMANCE.md, the Zen 4 sitting
 * of 2026-12-06).
 */
final class FusedActivation {
    private static final float SQRT_HALF = (float) Math.sqrt(0.5);
    private static final float SQRT_2_OVER_PI = (float) Math.sqrt(2 / Math.PI);
    /** Each thread's GEGLU gates, or GELU-tanh's argument: the values an activation is taken of, apart from the tile. */
    private static final ThreadScratch ARGUMENTS = new ThreadScratch();
    /** Each thread's exponents, turned into exponentials in place by {@link VectorMath#exp}. */
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
        FloatVector factor = FloatVector.broadcast(F, k), one = FloatVector.broadcast(F, 1f);
        for (int i = 0; i < n; i += L) {
            FloatVector.fromArray(F, a, i).mul(factor).intoArray(e, i);
        }
        VectorMath.exp(e, 0, n);
        for (int i = 0; i < n; i += L) {
            FloatVector.fromArray(F, a, i).div(FloatVector.fromArray(F, e, i).add(one)).intoArray(a, i);
        }
    }

    /**
     * The tests' {@code ActivationMath.gelu}, operation for operation: 0.5 x (1 + erf(x / sqrt 2)) through
     * erfc(|z|) = t e^(P(t) - z^2); t is kept beside the exponents, so that its division is done once.
     */
    private static void gelu(float[] a, int n) {
        float[] e = EXPONENTS.floats(n);
        float[] ts = ERFC_T.floats(n);
        FloatVector sqrtHalf = FloatVector.broadcast(F, SQRT_HALF), half = FloatVector.broadcast(F, 0.5f);
        FloatVector one = FloatVector.broadcast(F, 1f), two = FloatVector.broadcast(F, 2f);
        // erfc's polynomial in t (Numerical Recipes' Chebyshev fit), highest power first
        FloatVector p9 = FloatVector.broadcast(F, 0.17087277f), p8 = FloatVector.broadcast(F, -0.82215223f);
        FloatVector p7 = FloatVector.broadcast(F, 1.48851587f), p6 = FloatVector.broadcast(F, -1.13520398f);
        FloatVector p5 = FloatVector.broadcast(F, 0.27886807f), p4 = FloatVector.broadcast(F, -0.18628806f);
        FloatVector p3 = FloatVector.broadcast(F, 0.09678418f), p2 = FloatVector.broadcast(F, 0.37409196f);
        FloatVector p1 = FloatVector.broadcast(F, 1.00002368f), p0 = FloatVector.broadcast(F, -1.26551223f);
        for (int i = 0; i < n; i += L) {
            FloatVector z = FloatVector.fromArray(F, a, i).mul(sqrtHalf);
            FloatVector abs = z.abs();
            FloatVector t = one.div(abs.mul(half).add(one));
            t.intoArray(ts, i);
            FloatVector p = t.mul(p9).add(p8);
            p = p.mul(t).add(p7);
            p = p.mul(t).add(p6);
            p = p.mul(t).add(p5);
            p = p.mul(t).add(p4);
            p = p.mul(t).add(p3);
            p = p.mul(t).add(p2);
            p = p.mul(t).add(p1);
            p = p.mul(t).add(p0);
            p.sub(abs.mul(abs)).intoArray(e, i);
        }
        VectorMath.exp(e, 0, n);
        FloatVector zero = FloatVector.zero(F);
        for (int i = 0; i < n; i += L) {
            FloatVector x = FloatVector.fromArray(F, a, i);
            FloatVector z = x.mul(sqrtHalf);
            FloatVector c = FloatVector.fromArray(F, ts, i).mul(FloatVector.fromArray(F, e, i));
            FloatVector onePlusErf = two.sub(c).blend(c, z.lt(zero));
            x.mul(half).mul(onePlusErf).intoArray(a, i);
        }
    }

    /** 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))). */
    private static void geluTanh(float[] a, int n) {
        float[] inner = ARGUMENTS.floats(n);
        FloatVector cubic = FloatVector.broadcast(F, 0.044715f), scale = FloatVector.broadcast(F, SQRT_2_OVER_PI);
        FloatVector one = FloatVector.broadcast(F, 1f), half = FloatVector.broadcast(F, 0.5f);
        for (int i = 0; i < n; i += L) {
            FloatVector x = FloatVector.fromArray(F, a, i);
            x.mul(x).mul(cubic).add(one).mul(x).mul(scale).intoArray(inner, i);
        }
        tanh(inner, n);
        for (int i = 0; i < n; i += L) {
            FloatVector x = FloatVector.fromArray(F, a, i);
            x.mul(half).mul(FloatVector.fromArray(F, inner, i).add(one)).intoArray(a, i);
        }
    }

    /**
     * tanh over a[0, n) in place: Cephes' tanhf polynomial for |x| < 0.625, sign(x) (1 - 2 / (e^{2|x|} + 1))
     * above; NaN stays NaN.
     */
    private static void tanh(float[] a, int n) {
        float[] e = EXPONENTS.floats(n);
        for (int i = 0; i < n; i += L) {
            FloatVector abs = FloatVector.fromArray(F, a, i).abs();
            abs.add(abs).intoArray(e, i);
        }
        VectorMath.exp(e, 0, n);
        FloatVector t4 = FloatVector.broadcast(F, -5.70498872745e-3f), t3 = FloatVector.broadcast(F, 2.06390887954e-2f);
        FloatVector t2 = FloatVector.broadcast(F, -5.37397155531e-2f), t1 = FloatVector.broadcast(F, 1.33314422036e-1f);
        FloatVector t0 = FloatVector.broadcast(F, -3.33332819422e-1f);
        FloatVector one = FloatVector.broadcast(F, 1f), two = FloatVector.broadcast(F, 2f);
        FloatVector zero = FloatVector.zero(F), smallBelow = FloatVector.broadcast(F, 0.625f);
        for (int i = 0; i < n; i += L) {
            FloatVector x = FloatVector.fromArray(F, a, i);
            FloatVector abs = x.abs();
            FloatVector z = x.mul(x);
            FloatVector p = z.fma(t4, t3);
            p = p.fma(z, t2);
            p = p.fma(z, t1);
            p = p.fma(z, t0);
            FloatVector small = p.mul(z).fma(x, x);
            FloatVector large = one.sub(two.div(FloatVector.fromArray(F, e, i).add(one)));
            large = large.blend(large.neg(), x.lt(zero));
            large.blend(small, abs.lt(smallBelow)).intoArray(a, i); // below 0.625 the subtraction would cancel
        }
    }
}
