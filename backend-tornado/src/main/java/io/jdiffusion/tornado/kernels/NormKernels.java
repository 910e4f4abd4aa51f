package io.jdiffusion.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * Row-wise reductions, one work-group of {@link #THREADS} threads per normalised block: GroupNorm
 * (+SiLU), LayerNorm and softmax. Statistics use two passes (mean, then the mean of squared deviations)
 * so that large offsets do not cancel; partial sums meet in a local-memory tree. The tree is written out in
 * each kernel: TornadoVM's PTX backend loses the shared address space of a local array passed to a helper.
 */
public final class NormKernels {
    public static final int THREADS = 256;
    /** Work-group width of {@link #groupNorm}. */
    public static final int GROUP_THREADS = 1024;

    private NormKernels() {
    }

    /**
     * GroupNorm over x [N, C, spatial]: work-group g handles batch g / groups, group g % groups, whose
     * channels are one contiguous block of (C / groups) * spatial elements. A group holds up to a million
     * elements (the VAE at 512x512) and there are only N * groups work-groups, so each is {@link #GROUP_THREADS}
     * wide and keeps four loads in flight per thread: one load at a time left the passes waiting on memory.
     */
    public static void groupNorm(KernelContext ctx, FloatArray x, int xOff, FloatArray gamma, int gOff, FloatArray beta, int bOff,
                                 FloatArray out, int outOff, int channels, int spatial, int groups, float eps, int silu) {
        float[] scratch = ctx.allocateFloatLocalArray(GROUP_THREADS);
        int lid = ctx.localIdx;
        int block = ctx.groupIdx;
        int cpg = channels / groups;
        int count = cpg * spatial;
        int g = block % groups;
        int start = xOff + block * count;
        int step = 4 * GROUP_THREADS;
        int whole = count - count % step;
        float s0 = 0.0f;
        float s1 = 0.0f;
        float s2 = 0.0f;
        float s3 = 0.0f;
        for (int i = lid; i < whole; i += step) {
            s0 += x.get(start + i);
            s1 += x.get(start + i + GROUP_THREADS);
            s2 += x.get(start + i + 2 * GROUP_THREADS);
            s3 += x.get(start + i + 3 * GROUP_THREADS);
        }
        for (int i = whole + lid; i < count; i += GROUP_THREADS) {
            s0 += x.get(start + i);
        }
        scratch[lid] = (s0 + s1) + (s2 + s3);
        ctx.localBarrier();
        for (int stride = GROUP_THREADS / 2; stride > 0; stride /= 2) {
            if (lid < stride) {
                scratch[lid] += scratch[lid + stride];
            }
            ctx.localBarrier();
        }
        float mean = scratch[0] / count;
        ctx.localBarrier();
        float v0 = 0.0f;
        float v1 = 0.0f;
        float v2 = 0.0f;
        float v3 = 0.0f;
        for (int i = lid; i < whole; i += step) {
            float d0 = x.get(start + i) - mean;
            float d1 = x.get(start + i + GROUP_THREADS) - mean;
            float d2 = x.get(start + i + 2 * GROUP_THREADS) - mean;
            float d3 = x.get(start + i + 3 * GROUP_THREADS) - mean;
            v0 += d0 * d0;
            v1 += d1 * d1;
            v2 += d2 * d2;
            v3 += d3 * d3;
        }
        for (int i = whole + lid; i < count; i += GROUP_THREADS) {
            float d = x.get(start + i) - mean;
            v0 += d * d;
        }
        scratch[lid] = (v0 + v1) + (v2 + v3);
        ctx.localBarrier();
        for (int stride = GROUP_THREADS / 2; stride > 0; stride /= 2) {
            if (lid < stride) {
                scratch[lid] += scratch[lid + stride];
            }
            ctx.localBarrier();
        }
        float var = scratch[0] / count;
        float inv = 1.0f / TornadoMath.sqrt(var + eps);
        int o = outOff + block * count;
        for (int i = lid; i < count; i += GROUP_THREADS) {
            int c = g * cpg + i / spatial;
            float y = (x.get(start + i) - mean) * inv * gamma.get(gOff + c) + beta.get(bOff + c);
            if (silu == 1) {
                y = KernelMath.silu(y);
            }
            out.set(o + i, y);
        }
    }

    /** LayerNorm of each row of x [rows, d]; work-group r handles row r. */
    public static void layerNorm(KernelContext ctx, FloatArray x, int xOff, FloatArray gamma, int gOff, FloatArray beta, int bOff,
                                 FloatArray out, int outOff, int d, float eps) {
        float[] scratch = ctx.allocateFloatLocalArray(THREADS);
        int lid = ctx.localIdx;
        int start = ctx.groupIdx * d;
        float s = 0.0f;
        for (int i = lid; i < d; i += THREADS) {
            s += x.get(xOff + start + i);
        }
        scratch[lid] = s;
        ctx.localBarrier();
        for (int stride = THREADS / 2; stride > 0; stride /= 2) {
            if (lid < stride) {
                scratch[lid] += scratch[lid + stride];
            }
            ctx.localBarrier();
        }
        float mean = scratch[0] / d;
        ctx.localBarrier();
        float v = 0.0f;
        for (int i = lid; i < d; i += THREADS) {
            float dev = x.get(xOff + start + i) - mean;
            v += dev * dev;
        }
        scratch[lid] = v;
        ctx.localBarrier();
        for (int stride = THREADS / 2; stride > 0; stride /= 2) {
            if (lid < stride) {
                scratch[lid] += scratch[lid + stride];
            }
            ctx.localBarrier();
        }
        float var = scratch[0] / d;
        float inv = 1.0f / TornadoMath.sqrt(var + eps);
        for (int i = lid; i < d; i += THREADS) {
            out.set(outOff + start + i, (x.get(xOff + start + i) - mean) * inv * gamma.get(gOff + i) + beta.get(bOff + i));
        }
    }

    /** Softmax of each row of x [rows, d]; work-group r handles row r. */
    public static void softmax(KernelContext ctx, FloatArray x, int xOff, FloatArray out, int outOff, int d) {
        float[] scratch = ctx.allocateFloatLocalArray(THREADS);
        int lid = ctx.localIdx;
        int start = ctx.groupIdx * d;
        float m = KernelMath.MASKED;
        for (int i = lid; i < d; i += THREADS) {
            m = Math.max(m, x.get(xOff + start + i));
        }
        scratch[lid] = m;
        ctx.localBarrier();
        for (int stride = THREADS / 2; stride > 0; stride /= 2) {
            if (lid < stride) {
                scratch[lid] = Math.max(scratch[lid], scratch[lid + stride]);
            }
            ctx.localBarrier();
        }
        float max = scratch[0];
        ctx.localBarrier();
        float s = 0.0f;
        for (int i = lid; i < d; i += THREADS) {
            s += TornadoMath.exp(x.get(xOff + start + i) - max);
        }
        scratch[lid] = s;
        ctx.localBarrier();
        for (int stride = THREADS / 2; stride > 0; stride /= 2) {
            if (lid < stride) {
                scratch[lid] += scratch[lid + stride];
            }
            ctx.localBarrier();
        }
        float inv = 1.0f / scratch[0];
        for (int i = lid; i < d; i += THREADS) {
            out.set(outOff + start + i, TornadoMath.exp(x.get(xOff + start + i) - max) * inv);
        }
    }
}
