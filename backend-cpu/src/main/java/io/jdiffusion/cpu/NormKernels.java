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
    /** Vectors summed in float before the partial sums move to double. */
    private static final int CHUNK_VECTORS = 32;

    private NormKernels() {
    }

    /** Mean and 1/sqrt(var + eps) of {@code n} contiguous floats. */
    record Stats(double mean, double rstd) {
    }

    /**
     * Statistics of x[base, base + n) with the data shifted by its first element (so E[x^2] - E[x]^2 does
     * not cancel when the mean is large) and float partial sums over short chunks folded into doubles.
     */
    static Stats stats(MemorySegment x, long base, long n, float eps) {
        float shift = x.getAtIndex(FLOAT, base);
        FloatVector sv = FloatVector.broadcast(F, shift);
        MemorySegment xs = x.asSlice(4 * base, 4 * n); // offsets from 0 within one slice: see affineSilu
        double s1 = 0, s2 = 0;
        long i = 0;
        long full = n - n % L;
        while (i < full) {
            long end = Math.min(full, i + (long) CHUNK_VECTORS * L);
            FloatVector a1 = FloatVector.zero(F), a2 = FloatVector.zero(F);
            for (; i < end; i += L) {
                FloatVector v = FloatVector.fromMemorySegment(F, xs, 4 * i, ORDER).sub(sv);
                a1 = a1.add(v);
                a2 = v.fma(v, a2);
            }
            s1 += VectorMath.sum(a1);
            s2 += VectorMath.sum(a2);
        }
        for (; i < n; i++) {
            double v = x.getAtIndex(FLOAT, base + i) - (double) shift;
            s1 += v;
            s2 += v * v;
        }
        double m1 = s1 / n;
        double var = Math.max(0, s2 / n - m1 * m1);
        return new Stats(shift + m1, 1.0 / Math.sqrt(var + eps));
    }

    static Kernel groupNorm(Op.GroupNorm op, CompileContext ctx) {
        var shape = op.x().shape();
        int batch = shape.size(0);
        int channels = shape.size(1);
        long spatial = shape.countFrom(2);
        int groups = op.groups();
        int perGroup = channels / groups;
        float eps = op.eps();
        boolean silu = op.silu();
        int x = op.x().id(), gamma = op.gamma().id(), beta = op.beta().id(), out = op.out().id();
        WorkerPool pool = ctx.pool;
        return buffers -> {
            MemorySegment xs = buffers[x], gs = buffers[gamma], bs = buffers[beta], os = buffers[out];
            pool.forEach(batch * groups, task -> {
                int n = task / groups, g = task % groups;
                long base = ((long) n * channels + (long) g * perGroup) * spatial;
                Stats st = stats(xs, base, perGroup * spatial, eps);
                for (int c = 0; c < perGroup; c++) {
                    int ch = g * perGroup + c;
                    double scale = gs.getAtIndex(FLOAT, ch) * st.rstd();
                    double shift = bs.getAtIndex(FLOAT, ch) - st.mean() * scale;
                    affine(xs, os, base + c * spatial, spatial, (float) scale, (float) shift, silu);
                }
            });
        };
    }

    /** out = act(x * scale + shift) over n contiguous elements. */
    private static void affine(MemorySegment x, MemorySegment out, long base, long n, float scale, float shift, boolean silu) {
        long full = n - n % L;
        if (silu) {
            affineSilu(x, out, base, Math.toIntExact(full), scale, shift);
        } else {
            FloatVector sc = FloatVector.broadcast(F, scale), sh = FloatVector.broadcast(F, shift);
            MemorySegment xs = x.asSlice(4 * base, 4 * full), os = out.asSlice(4 * base, 4 * full);
            for (long o = 0; o < 4 * full; o += 4L * L) {
                FloatVector.fromMemorySegment(F, xs, o, ORDER).fma(sc, sh).intoMemorySegment(os, o, ORDER);
            }
        }
        for (long i = base + full; i < base + n; i++) {
            float v = Math.fma(x.getAtIndex(FLOAT, i), scale, shift);
            out.setAtIndex(FLOAT, i, silu ? (float) (v / (1 + StrictMath.exp(-(double) v))) : v);
        }
    }

    /**
     * out = silu(x * scale + shift) over x[base, base + n), n a multiple of L: silu(v) = v / (1 + 2^(-v
     * log2 e)), the power of two from {@link VectorMath}'s degree-5 polynomial on [-1/2, 1/2] and the exponent
     * bits, clamped to 2^[-127, 127]. Written out in the loop rather than called: C2 keeps
     * vectors in registers only where every Vector API call is inlined, and a call to a shared exp that
     * it declines to inline (too big, or already compiled on its own) boxes each vector (several times
     * slower than the loop itself).
     *
     * <p>The loop addresses slices made here, of exactly its elements, from byte offset 0 up to their
     * size: C2 then sees each access in bounds and drops the checks. Indexing the whole buffer at
     * {@code 4 * (base + i)}, or a slice made by the caller, kept the checks in the loop: single-threaded
     * over 64x64x320 this pass took 1.13 ms against 1.28 ms, a bare load-fma-store loop 0.23 against 0.48
     * ms (docs/PERFORMANCE.md, 2026-12-05).
     */
    private static void affineSilu(MemorySegment x, MemorySegment out, long base, int n, float scale, float shift) {
        FloatVector sc = FloatVector.broadcast(F, scale), sh = FloatVector.broadcast(F, shift);
        FloatVector rounder = FloatVector.broadcast(F, VectorMath.ROUNDER);
        FloatVector one = FloatVector.broadcast(F, 1f);
        MemorySegment xs = x.asSlice(4 * base, 4L * n), os = out.asSlice(4 * base, 4L * n);
        for (long o = 0; o < 4L * n; o += 4L * L) {
            FloatVector v = FloatVector.fromMemorySegment(F, xs, o, ORDER).fma(sc, sh);
            FloatVector z = v.mul(-VectorMath.LOG2E).max(-127f).min(127f); // NaN passes through unchanged
            FloatVector t = z.add(rounder);
            FloatVector f = z.sub(t.sub(rounder));
            FloatVector p = f.fma(VectorMath.POW2_C5, VectorMath.POW2_C4);
            p = p.fma(f, FloatVector.broadcast(F, VectorMath.POW2_C3));
            p = p.fma(f, FloatVector.broadcast(F, VectorMath.POW2_C2));
            p = p.fma(f, FloatVector.broadcast(F, VectorMath.POW2_C1));
            p = p.fma(f, FloatVector.broadcast(F, VectorMath.POW2_C0));
            FloatVector pow = (FloatVector) ((IntVector) t.reinterpretAsInts()).lanewise(VectorOperators.LSHL, 23).add(127 << 23)
                    .reinterpretAsFloats();
            v.div(p.fma(pow, one)).intoMemorySegment(os, o, ORDER);
        }
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
                for (long r = from; r < to; r++) {
                    long base = r * width;
                    Stats st = stats(xs, base, width, eps);
                    FloatVector mean = FloatVector.broadcast(F, (float) st.mean());
                    FloatVector rstd = FloatVector.broadcast(F, (float) st.rstd());
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
