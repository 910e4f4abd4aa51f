package io.jdiffusion.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import static io.jdiffusion.cpu.CpuVectors.F;
import static io.jdiffusion.cpu.CpuVectors.L;

/**
 * exp and the horizontal sum of a vector, written with IEEE-exact operations only (add, mul, fma,
 * compare, convert, bit moves), so they give the same bits in every JIT tier.
 *
 * <p>The Vector API's own {@code lanewise(EXP)}, {@code lanewise(TANH)} and {@code reduceLanes(ADD)} do
 * not: interpreted and C1 code runs a Java fallback (lane by lane in index order), C2 code runs the vector
 * math library and a tree reduction, and the results differ in the last bit for a few lanes in a hundred.
 * Which tier runs a kernel depends on when the compiler threads get to it, that is on machine load, so the
 * same network on the same input gave different bits from run to run.
 */
final class VectorMath {
    static final float LOG2E = 1.44269504088896341f;
    /** ln 2 in two parts: the high part has few enough bits that n * LN2_HI is exact for |n| <= 256. */
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    /** Beyond these, exp overflows to infinity or underflows to zero (the clamp keeps the exponents in range). */
    private static final float EXP_MAX = 89f;
    private static final float EXP_MIN = -110f;
    /** 1.5 * 2^23: adding and subtracting it rounds a float of magnitude below 2^22 to the nearest integer. */
    static final float ROUNDER = 12582912f;
    /** Integer lanes of the float vectors' shape, for exponent bits. */
    private static final VectorSpecies<Integer> INTS = IntVector.SPECIES_PREFERRED.withShape(F.vectorShape());

    /**
     * 2^f on [-1/2, 1/2] as c0 + c1 f + ... + c5 f^5, a relative-error minimax fit (Lawson iterations on
     * Chebyshev nodes): within 1.6e-7 in exact arithmetic, 2.2e-7 (under 4 units in the last place)
     * evaluated by Horner's rule in float FMAs, 3.0 by Estrin's scheme (measured at 2e7 points). Loops that need 2^x write it out with these constants
     * ({@link #exp2NonPositive}, GroupNorm's fused SiLU) so that no vector crosses a call.
     */
    static final float POW2_C0 = 1.00000012f;
    static final float POW2_C1 = 6.93146944e-1f;
    static final float POW2_C2 = 2.40221202e-1f;
    static final float POW2_C3 = 5.55071309e-2f;
    static final float POW2_C4 = 9.67554189e-3f;
    static final float POW2_C5 = 1.32764713e-3f;

    private VectorMath() {
    }

    /**
     * a[i] = e^a[i] in place for the {@code count} floats from {@code from} ({@code count} a multiple of the vector
     * length), within 2 units in the last place (Cephes' expf polynomial on [-ln2/2, ln2/2]); -infinity gives 0,
     * +infinity gives +infinity, NaN stays NaN. n is read from the bits of c * log2(e) + 1.5 * 2^23 (the rounded
     * sum holds n in its low mantissa bits, |n| <= 160), and 2^n is applied in two factors, each a normal float for
     * n in [-159, 129], so that results near the ends of the range round once.
     *
     * <p>Arrays in and out, and every constant a vector made before the loop, for the reasons given at
     * {@link #exp2NonPositive}.
     */
    static void exp(float[] a, int from, int count) {
        FloatVector lowest = FloatVector.broadcast(F, EXP_MIN), highest = FloatVector.broadcast(F, EXP_MAX);
        FloatVector log2e = FloatVector.broadcast(F, LOG2E), rounder = FloatVector.broadcast(F, ROUNDER);
        FloatVector ln2Hi = FloatVector.broadcast(F, -LN2_HI), ln2Lo = FloatVector.broadcast(F, -LN2_LO);
        FloatVector c6 = FloatVector.broadcast(F, 1.9875691500e-4f), c5 = FloatVector.broadcast(F, 1.3981999507e-3f);
        FloatVector c4 = FloatVector.broadcast(F, 8.3334519073e-3f), c3 = FloatVector.broadcast(F, 4.1665795894e-2f);
        FloatVector c2 = FloatVector.broadcast(F, 1.6666665459e-1f), c1 = FloatVector.broadcast(F, 5.0000001201e-1f);
        FloatVector one = FloatVector.broadcast(F, 1f);
        IntVector rounderBits = IntVector.broadcast(INTS, Float.floatToRawIntBits(ROUNDER));
        IntVector bias = IntVector.broadcast(INTS, 127);
        for (int i = from, end = from + count; i < end; i += L) {
            FloatVector c = FloatVector.fromArray(F, a, i).max(lowest).min(highest); // NaN passes through max/min unchanged
            FloatVector rounded = c.fma(log2e, rounder);
            FloatVector n = rounded.sub(rounder);
            FloatVector r = n.fma(ln2Hi, c);
            r = n.fma(ln2Lo, r);
            FloatVector p = r.fma(c6, c5);
            p = p.fma(r, c4);
            p = p.fma(r, c3);
            p = p.fma(r, c2);
            p = p.fma(r, c1);
            FloatVector y = p.mul(r.mul(r)).add(r).add(one);
            IntVector ni = ((IntVector) rounded.reinterpretAsInts()).sub(rounderBits);
            IntVector half = ni.lanewise(VectorOperators.ASHR, 1);
            FloatVector lo = (FloatVector) half.add(bias).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
            FloatVector hi = (FloatVector) ni.sub(half).add(bias).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
            y.mul(lo).mul(hi).intoArray(a, i);
        }
    }

    /**
     * a[i] = 2^(a[i] - shift) for the {@code count} vectors at {@code from + j * stride}, with {@code shift}
     * the vector at {@code shiftAt} in {@code shifts}; their sum is written to {@code sums} at {@code sumAt};
     * and likewise for each of {@code rows} such runs, run r from {@code from + r * rowStep} with its shift at
     * {@code shiftAt + r * L} and its sum to {@code sumAt + r * L} (one call for several softmax rows, whose
     * per-call setup would otherwise cost as much as a short row's exponentials):
     * the exponentials of a softmax whose scores are in log2 units, {@code shift} their running max,
     * so every argument is <= 0. A degree-5 polynomial on [-1/2, 1/2] (within 4 units in the last place)
     * by Estrin's scheme, three FMAs deep instead of Horner's five: the loop is bound by each vector's chain of
     * dependent operations, not by throughput (0.92x the time of few-keys attention at heads of 40),
     * no upper clamp, one power of two made by shifting the rounded exponent's bits; results below 2^-126
     * flush to 0, so -infinity (a masked score) gives exactly 0; NaN stays NaN.
     *
     * <p>A whole loop whose operands are arrays, not a function of vectors, on purpose: C2 keeps vectors
     * in registers only where every Vector API call is inlined, and this loop is too big to inline into its
     * caller ("too big" in {@code -XX:+PrintInlining}), so a vector passed in or returned would be boxed on
     * every call: 19 ns per vector instead of 3 here.
     */
    static void exp2NonPositive(float[] a, int from, int rows, int rowStep, int count, int stride, float[] shifts, int shiftAt,
                                float[] sums, int sumAt) {
        // Every constant of the loop as a vector, made once per call: an operation with a scalar operand broadcasts
        // it on each use, and in a JVM whose C2 left that broadcast out of line each one allocated an array (207 MB
        // per SD 1.5 UNet call at 512x512, JFR, 2026-12-06).
        FloatVector rounder = FloatVector.broadcast(F, ROUNDER);
        FloatVector floor = FloatVector.broadcast(F, -127f);
        FloatVector c0 = FloatVector.broadcast(F, POW2_C0), c1 = FloatVector.broadcast(F, POW2_C1);
        FloatVector c2 = FloatVector.broadcast(F, POW2_C2), c3 = FloatVector.broadcast(F, POW2_C3);
        FloatVector c4 = FloatVector.broadcast(F, POW2_C4), c5 = FloatVector.broadcast(F, POW2_C5);
        IntVector one = IntVector.broadcast(INTS, 127 << 23);
        for (int r = 0; r < rows; r++) {
            FloatVector shift = FloatVector.fromArray(F, shifts, shiftAt + r * L);
            FloatVector sum = FloatVector.zero(F);
            for (int j = 0, o = from + r * rowStep; j < count; j++, o += stride) {
                FloatVector c = FloatVector.fromArray(F, a, o).sub(shift);
                c = c.blend(floor, c.compare(VectorOperators.LT, floor)); // NaN compares false and stays
                FloatVector t = c.add(rounder); // the nearest integer n in t's low mantissa bits
                FloatVector f = c.sub(t.sub(rounder)); // in [-1/2, 1/2]
                // Estrin's scheme: (c0 + c1 f) + f^2 (c2 + c3 f) + f^4 (c4 + c5 f), three FMA deep instead of five
                FloatVector f2 = f.mul(f);
                FloatVector p01 = f.fma(c1, c0);
                FloatVector p23 = f.fma(c3, c2);
                FloatVector p45 = f.fma(c5, c4);
                FloatVector p = f2.fma(p45, p23).fma(f2, p01);
                // (bits(t) << 23) is n << 23; adding 127 << 23 gives 2^n, and n = -127 gives the bits of +0
                IntVector bits = (IntVector) t.reinterpretAsInts();
                FloatVector scale = (FloatVector) bits.lanewise(VectorOperators.LSHL, 23).add(one).reinterpretAsFloats();
                p = p.mul(scale);
                p.intoArray(a, o);
                sum = sum.add(p);
            }
            sum.intoArray(sums, sumAt + r * L);
        }
    }

    /**
     * The sum of the L floats from a[from] (a vector's lanes, stored), added in lane order (the same order in every
     * tier). It takes an array, not the vector: C2 has declined this call ("callee uses too much stack" in
     * {@code -XX:+PrintInlining}), and a vector argument is then boxed, 11.5 MB per SD 1.5 UNet call at 256x256 when
     * forced out of line (docs/PERFORMANCE.md).
     */
    static float sum(float[] a, int from) {
        float s = a[from];
        for (int i = 1; i < L; i++) {
            s += a[from + i];
        }
        return s;
    }
}
