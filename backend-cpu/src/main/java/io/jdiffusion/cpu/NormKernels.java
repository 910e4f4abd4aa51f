package io.jdiffusion.cpu;

import io.jdiffusion.backend.graph.Op;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static io.jdiffusion.cpu.CpuVectors.F;
import static io.jdiffusion.cpu.CpuVectors.FLOAT;
import static io.jdiffusion.cpu.CpuVectors.L;
import static io.jdiffusion.cpu.CpuVectors.ORDER;

/**
 * GroupNorm (with its fused SiLU) and LayerNorm: a statistics pass, then one pass that normalises,
 * scales, shifts, activates and writes each output element once.
 */
final class NormKernels {
    /** Vectors summed in float (32 by each of the four accumulators) before the partial sums move to double. */
    private static final int CHUNK_VECTORS = 128;
    /** Elements per slice of the statistics pass, so its offsets are ints (a multiple of every chunk). */
    private static final long BLOCK = 1L << 28;
    private static final double LOG2E = 1.4426950408889634;
    /** The bits of {@link VectorMath#ROUNDER}: the bits of z + ROUNDER are these plus round(z), for |z| <= 2^22. */
    private static final int ROUNDER_BITS = Float.floatToRawIntBits(VectorMath.ROUNDER);

    /** Each thread's {@link #stats} result: {mean, 1/sqrt(var + eps)}. */
    private static final ThreadLocal<double[]> STATS = ThreadLocal.withInitial(() -> new double[2]);
    /** Each thread's sums, then statistics, of the group after the one it normalises ({@link #groupNorm}). */
    private static final ThreadLocal<double[]> NEXT_STATS = ThreadLocal.withInitial(() -> new double[2]);
    /** Each thread's two stored partial-sum vectors of {@link #stats}, summed lane by lane from the array. */
    private static final ThreadScratch PARTIAL_SUMS = new ThreadScratch();

    private NormKernels() {
    }

    /**
     * Mean and 1/sqrt(var + eps) of x[base, base + n), written to {@code meanRstd[0]} and {@code meanRstd[1]}
     * (the calling thread's {@link #STATS}): a returned record would be allocated per row, as C2 compiles this
     * method on its own rather than inline it into the kernels' tasks, so escape analysis cannot remove it
     * (1.8 MB per SD 1.5 UNet call at 256x256).
     *
     * <p>The data are shifted by their first element (so E[x^2] - E[x]^2 does not cancel when the mean is large);
     * {@link #accumulate} sums them.
     */
    static void stats(MemorySegment x, long base, long n, float eps, double[] meanRstd) {
        float shift = x.getAtIndex(FLOAT, base);
        meanRstd[0] = 0;
        meanRstd[1] = 0;
        accumulate(x, base, 0, n, shift, meanRstd);
        finish(n, shift, eps, meanRstd);
    }

    /** Turns the sums {@link #accumulate} left in {@code sums} over n elements shifted by {@code shift} into {mean, 1/sqrt(var + eps)}. */
    private static void finish(long n, float shift, float eps, double[] sums) {
        double m1 = sums[0] / n;
        double var = Math.max(0, sums[1] / n - m1 * m1);
        sums[0] = shift + m1;
        sums[1] = 1.0 / Math.sqrt(var + eps);
    }

    /**
     * Adds the sum and the sum of squares of x[base + from, base + to) - shift to {@code sums[0]} and {@code sums[1]}:
     * float partial sums over short chunks, folded into doubles. Four pairs of accumulators take the vectors in turn:
     * with one pair, each vector waited for the previous FMA (4 cycles), which held the pass to about 8 bytes a
     * cycle even where the group comes from cache (docs/PERFORMANCE.md, "GroupNorm+SiLU: the clamp and the
     * statistics", 2026-12-05).
     */
    static void accumulate(MemorySegment x, long base, long from, long to, float shift, double[] sums) {
        FloatVector sv = FloatVector.broadcast(F, shift);
        double s1 = 0, s2 = 0;
        float[] partial = PARTIAL_SUMS.floats(2 * L);
        long full = to - (to - from) % (4L * L);
        for (long block = from; block < full; block += BLOCK) {
            // a slice of exactly the block, int offsets from 0: see affineSilu
            int bytes = (int) (4 * Math.min(BLOCK, full - block));
            MemorySegment xs = x.asSlice(4 * (base + block), bytes);
            for (int chunk = 0; chunk < bytes; chunk += 4 * CHUNK_VECTORS * L) {
                int end = Math.min(bytes, chunk + 4 * CHUNK_VECTORS * L);
                FloatVector a1 = FloatVector.zero(F), a2 = a1, b1 = a1, b2 = a1, c1 = a1, c2 = a1, d1 = a1, d2 = a1;
                for (int o = chunk; o < end; o += 16 * L) {
                    FloatVector v = FloatVector.fromMemorySegment(F, xs, o, ORDER).sub(sv);
                    FloatVector w = FloatVector.fromMemorySegment(F, xs, o + 4 * L, ORDER).sub(sv);
                    FloatVector y = FloatVector.fromMemorySegment(F, xs, o + 8 * L, ORDER).sub(sv);
                    FloatVector z = FloatVector.fromMemorySegment(F, xs, o + 12 * L, ORDER).sub(sv);
                    a1 = a1.add(v);
                    a2 = v.fma(v, a2);
                    b1 = b1.add(w);
                    b2 = w.fma(w, b2);
                    c1 = c1.add(y);
                    c2 = y.fma(y, c2);
                    d1 = d1.add(z);
                    d2 = z.fma(z, d2);
                }
                a1.add(b1).add(c1.add(d1)).intoArray(partial, 0);
                a2.add(b2).add(c2.add(d2)).intoArray(partial, L);
                s1 += VectorMath.sum(partial, 0);
                s2 += VectorMath.sum(partial, L);
            }
        }
        for (long i = full; i < to; i++) {
            double v = x.getAtIndex(FLOAT, base + i) - (double) shift;
            s1 += v;
            s2 += v * v;
        }
        sums[0] += s1;
        sums[1] += s2;
    }

    /**
     * GroupNorm. Each task takes a run of groups. With the SiLU it normalises each group while it sums the next
     * ({@link #affineSilu}): the statistics' loads stream from memory while the SiLU's arithmetic works on the group
     * just summed, still in cache; one pass after the other, they took the sum of their times (docs/PERFORMANCE.md,
     * "GroupNorm+SiLU in place, beside the next group's statistics"). Without the SiLU the normalising pass is a
     * bare load-FMA-store with no arithmetic to hide loads behind: each group is summed, then normalised.
     */
    static Kernel groupNorm(Op.GroupNorm op, CompileContext ctx) {
        var shape = op.x().shape();
        int batch = shape.size(0);
        int channels = shape.size(1);
        long spatial = shape.countFrom(2);
        int groups = op.groups();
        int perGroup = channels / groups;
        long groupElements = perGroup * spatial;
        float eps = op.eps();
        boolean silu = op.silu();
        int x = op.x().id(), gamma = op.gamma().id(), beta = op.beta().id(), out = op.out().id();
        WorkerPool pool = ctx.pool;
        return buffers -> {
            MemorySegment xs = buffers[x], gs = buffers[gamma], bs = buffers[beta], os = buffers[out];
            pool.forRange((long) batch * groups, 2, (from, to) -> {
                double[] st = STATS.get();
                double[] next = NEXT_STATS.get();
                for (long task = from; task < to; task++) {
                    int g = (int) (task % groups);
                    long base = task * groupElements;
                    if (!silu) {
                        stats(xs, base, groupElements, eps, st);
                    } else if (task == from) {
                        siluStats(xs, base, perGroup, spatial, eps, st);
                    }
                    boolean summing = silu && task + 1 < to;
                    long nextBase = base + groupElements;
                    float nextShift = summing ? xs.getAtIndex(FLOAT, nextBase) : 0;
                    next[0] = 0;
                    next[1] = 0;
                    for (int c = 0; c < perGroup; c++) {
                        int ch = g * perGroup + c;
                        double scale = gs.getAtIndex(FLOAT, ch) * st[1];
                        double shift = bs.getAtIndex(FLOAT, ch) - st[0] * scale;
                        long channelBase = base + c * spatial;
                        // without a next group in this task the SiLU's loop sums this channel, and the sums are dropped
                        long summedBase = summing ? nextBase + c * spatial : channelBase;
                        affine(xs, os, channelBase, spatial, scale, shift, silu, summedBase, nextShift, next);
                    }
                    if (summing) {
                        finish(groupElements, nextShift, eps, next);
                        st[0] = next[0];
                        st[1] = next[1];
                    }
                }
            });
        };
    }

    /**
     * {@link #stats} of a group of {@code channels} channels of {@code spatial} elements from x[base], its sums added
     * in {@link #siluGroupSums}'s order.
     */
    private static void siluStats(MemorySegment x, long base, int channels, long spatial, float eps, double[] meanRstd) {
        float shift = x.getAtIndex(FLOAT, base);
        meanRstd[0] = 0;
        meanRstd[1] = 0;
        siluGroupSums(x, base, channels, spatial, shift, meanRstd);
        finish(channels * spatial, shift, eps, meanRstd);
    }

    /**
     * The sums of a group of {@code channels} channels of {@code spatial} elements from x[base], shifted by
     * {@code shift}, added in the order in which {@link #affine} sums a group beside the one it normalises with the
     * SiLU: channel by channel, each channel's vectors, then its tail. A task's first group is summed here and the
     * others there, so every group's statistics have the same bits whatever run of groups a task takes (as many
     * runs as threads).
     */
    private static void siluGroupSums(MemorySegment x, long base, int channels, long spatial, float shift, double[] sums) {
        long full = spatial - spatial % L;
        for (int c = 0; c < channels; c++) {
            long channelBase = base + c * spatial;
            sumVectors(x, channelBase, Math.toIntExact(full), shift, sums);
            accumulate(x, channelBase, full, spatial, shift, sums);
        }
    }

    /**
     * The sums of x[base, base + n) - shift (n a multiple of L) added to {@code sums} by exactly the operations
     * {@link #affineSilu} sums them with: one pair of accumulators over chunks of {@link #CHUNK_VECTORS} vectors.
     */
    private static void sumVectors(MemorySegment x, long base, int n, float shift, double[] sums) {
        FloatVector sv = FloatVector.broadcast(F, shift);
        float[] partial = PARTIAL_SUMS.floats(2 * L);
        double s1 = 0, s2 = 0;
        int bytes = Math.multiplyExact(4, n);
        MemorySegment xs = x.asSlice(4 * base, bytes);
        for (int chunk = 0; chunk < bytes; chunk += 4 * CHUNK_VECTORS * L) {
            int end = Math.min(bytes, chunk + 4 * CHUNK_VECTORS * L);
            FloatVector a1 = FloatVector.zero(F), a2 = a1;
            for (int o = chunk; o < end; o += 4 * L) {
                FloatVector u = FloatVector.fromMemorySegment(F, xs, o, ORDER).sub(sv);
                a1 = a1.add(u);
                a2 = u.fma(u, a2);
            }
            a1.intoArray(partial, 0);
            a2.intoArray(partial, L);
            s1 += VectorMath.sum(partial, 0);
            s2 += VectorMath.sum(partial, L);
        }
        sums[0] += s1;
        sums[1] += s2;
    }

    /**
     * out = act(x * scale + shift) over n contiguous elements; with the SiLU, adding the sums of x[summedBase,
     * summedBase + n) - summedShift to {@code sums} on the way ({@link #siluGroupSums}'s order).
     */
    private static void affine(MemorySegment x, MemorySegment out, long base, long n, double scaleD, double shiftD, boolean silu,
                               long summedBase, float summedShift, double[] sums) {
        long full = n - n % L;
        float scale = (float) scaleD, shift = (float) shiftD;
        if (silu) {
            affineSilu(x, out, base, Math.toIntExact(full), scaleD, shiftD, summedBase, summedShift, sums);
            accumulate(x, summedBase, full, n, summedShift, sums);
        } else {
            FloatVector sc = FloatVector.broadcast(F, scale), sh = FloatVector.broadcast(F, shift);
            int bytes = Math.toIntExact(4 * full);
            MemorySegment xs = x.asSlice(4 * base, bytes), os = out.asSlice(4 * base, bytes);
            for (int o = 0; o < bytes; o += 4 * L) {
                FloatVector.fromMemorySegment(F, xs, o, ORDER).fma(sc, sh).intoMemorySegment(os, o, ORDER);
            }
        }
        for (long i = base + full; i < base + n; i++) {
            float v = Math.fma(x.getAtIndex(FLOAT, i), scale, shift);
            out.setAtIndex(FLOAT, i, silu ? (float) (v / (1 + StrictMath.exp(-(double) v))) : v);
        }
    }

    /**
     * out = silu(x * scale + shift) over x[base, base + n), n a multiple of L, adding the sum and the sum of squares
     * of x[summedBase, summedBase + n) - summedShift to {@code sums[0]} and {@code sums[1]} on the way (float sums
     * over chunks of {@link #CHUNK_VECTORS} vectors, folded into doubles, as {@link #accumulate}). GroupNorm sums the
     * next group there: its loads stream from memory while the SiLU's arithmetic, on a group still in cache, keeps
     * the core busy; one pass after the other, the two took the sum of their times. silu(v) = v / (1 + 2^z),
     * z = -v log2 e, the power of two from {@link VectorMath}'s degree-5 polynomial on [-1/2, 1/2] and the
     * exponent bits. Within 1.7e-7 of the float64 SiLU (relative) for v >= 0 and 1.1e-6 for -20 <= v < 0
     * (the rounding of z, |z| up to 29, limits the tail; {@code GroupNormSiluTest}); NaN stays NaN, and so
     * does an infinite v (GroupNorm's output is NaN anyway where its input holds an infinity, through the
     * statistics). Written out in the loop rather
     * than called: C2 keeps vectors in registers only where every Vector API call is inlined, and a call to
     * a shared exp that it declines to inline (too big, or already compiled on its own) boxes each vector
     * (several times slower than the loop itself).
     *
     * <p>The loop is arithmetic-bound (a bare load-FMA-store pass over the same data takes a quarter of its
     * time), so it keeps its dependency chain short, measured single-threaded over 64x64x320
     * (docs/PERFORMANCE.md, "GroupNorm+SiLU: the clamp and the statistics", 2026-12-05):
     * <ul>
     *   <li>z comes from x by its own FMA (x (-scale log2 e) + (-shift log2 e)), beside v rather than after it;</li>
     *   <li>the exponent n is clamped to [-127, 128] on the integer bits of z + 1.5 * 2^23, whose low bits hold
     *       round(z) in order (for |z| beyond 2^22 they clamp to the right end, negative sums included), with
     *       integer max/min: one instruction each, where {@code FloatVector.max/min} (Java's NaN and signed-zero
     *       rules) take five AVX2 instructions each. At the ends 2^n is 0 or +infinity, so silu(v) is v above
     *       about 88 and -0 below about -88 (the previous clamp to 2^127 gave v / 2^127 there, -0.5 at
     *       v = -8.5e37);</li>
     *   <li>the polynomial by Estrin's scheme (three short chains) instead of Horner's five dependent FMAs.</li>
     * </ul>
     * The division stays: a reciprocal from a bit trick and three Newton steps was slower.
     *
     * <p>The loop addresses slices made here, of exactly its elements, with int offsets from 0 up to their
     * size: C2 then can hoist the accesses' checks (bounds, the segment's scope being alive, read-only, its class) out
     * of the loop and unroll it. Indexing the whole buffer at {@code 4 * (base + i)}, or a slice made by the
     * caller, kept the checks in the loop (1.28 against 1.13 ms over 64x64x320 with the previous arithmetic).
     * The hoisting is not certain: the segment classes come from a JDK-wide type profile, the hoisted check
     * on them sometimes fails once (a "profile_predicate" deoptimization), and the recompiled loop keeps
     * every check inside and is not unrolled, about 1.5x slower (docs/PERFORMANCE.md, 2026-12-05).
     */
    static void affineSilu(MemorySegment x, MemorySegment out, long base, int n, double scale, double shift, long summedBase,
                           float summedShift, double[] sums) {
        FloatVector sc = FloatVector.broadcast(F, (float) scale), sh = FloatVector.broadcast(F, (float) shift);
        FloatVector za = FloatVector.broadcast(F, (float) (-scale * LOG2E)), zb = FloatVector.broadcast(F, (float) (-shift * LOG2E));
        FloatVector rounder = FloatVector.broadcast(F, VectorMath.ROUNDER);
        FloatVector one = FloatVector.broadcast(F, 1f);
        FloatVector c0 = FloatVector.broadcast(F, VectorMath.POW2_C0), c1 = FloatVector.broadcast(F, VectorMath.POW2_C1);
        FloatVector c2 = FloatVector.broadcast(F, VectorMath.POW2_C2), c3 = FloatVector.broadcast(F, VectorMath.POW2_C3);
        FloatVector c4 = FloatVector.broadcast(F, VectorMath.POW2_C4), c5 = FloatVector.broadcast(F, VectorMath.POW2_C5);
        FloatVector sv = FloatVector.broadcast(F, summedShift);
        float[] partial = PARTIAL_SUMS.floats(2 * L);
        double s1 = 0, s2 = 0;
        int bytes = Math.multiplyExact(4, n);
        MemorySegment xs = x.asSlice(4 * base, bytes), os = out.asSlice(4 * base, bytes), ns = x.asSlice(4 * summedBase, bytes);
        for (int chunk = 0; chunk < bytes; chunk += 4 * CHUNK_VECTORS * L) {
            int end = Math.min(bytes, chunk + 4 * CHUNK_VECTORS * L);
            FloatVector a1 = FloatVector.zero(F), a2 = a1;
            for (int o = chunk; o < end; o += 4 * L) {
                // one pair of accumulators: beside the SiLU their adds never wait on each other
                FloatVector u = FloatVector.fromMemorySegment(F, ns, o, ORDER).sub(sv);
                a1 = a1.add(u);
                a2 = u.fma(u, a2);
                FloatVector xv = FloatVector.fromMemorySegment(F, xs, o, ORDER);
                FloatVector v = xv.fma(sc, sh);
                FloatVector z = xv.fma(za, zb);
                FloatVector t = z.add(rounder); // round(z) in the low mantissa bits
                FloatVector f = z.sub(t.sub(rounder)); // in [-1/2, 1/2]
                FloatVector f2 = f.mul(f);
                FloatVector p = f.fma(c5, c4).fma(f2, f.fma(c3, c2)).fma(f2, f.fma(c1, c0));
                IntVector bits = ((IntVector) t.reinterpretAsInts()).max(ROUNDER_BITS - 127).min(ROUNDER_BITS + 128);
                // (bits << 23) is n << 23; adding 127 << 23 gives 2^n, n = -127 the bits of +0 and n = 128 those of +infinity
                FloatVector pow = (FloatVector) bits.lanewise(VectorOperators.LSHL, 23).add(127 << 23).reinterpretAsFloats();
                v.div(p.fma(pow, one)).intoMemorySegment(os, o, ORDER);
            }
            a1.intoArray(partial, 0);
            a2.intoArray(partial, L);
            s1 += VectorMath.sum(partial, 0);
            s2 += VectorMath.sum(partial, L);
        }
        sums[0] += s1;
        sums[1] += s2;
    }

    static Kernel layerNorm(Op.LayerNorm op, CompileContext ctx) {
        int width = op.x().shape().size(-1);
        long rows = op.x().shape().elementCount() / width;
        float eps = op.eps();
        int x = op.x().id(), gamma = op.gamma().id(), beta = op.beta().id(), out = op.out().id();
        WorkerPool pool = ctx.pool;
        return buffers -> {
            MemorySegment xs = buffers[x], gs = buffers[gamma], bs = buffers[beta], os = buffers[out];
            pool.forRange(rows, 4, (from, to) -> {
                double[] st = STATS.get();
                for (long r = from; r < to; r++) {
                    long base = r * width;
                    stats(xs, base, width, eps, st);
                    FloatVector mean = FloatVector.broadcast(F, (float) st[0]);
                    FloatVector rstd = FloatVector.broadcast(F, (float) st[1]);
                    for (int c = 0; c < width; c += L) {
                        VectorMask<Float> m = F.indexInRange(c, width);
                        long o = 4 * (base + c);
                        FloatVector v = FloatVector.fromMemorySegment(F, xs, o, ORDER, m).sub(mean).mul(rstd);
                        FloatVector g = FloatVector.fromMemorySegment(F, gs, 4L * c, ORDER, m);
                        FloatVector b = FloatVector.fromMemorySegment(F, bs, 4L * c, ORDER, m);
                        v.fma(g, b).intoMemorySegment(os, o, ORDER, m);
                    }
                }
            });
        };
    }
}
