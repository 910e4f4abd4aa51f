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

    private NormKernels() {
    }

    /**
     * GroupNorm over x [N, C, spatial]: work-group g handles batch g / groups, group g % groups, whose
     * channels are one contiguous block of (C / groups) * spatial elements.
     */
    public static void groupNorm(KernelContext ctx, FloatArray x, int xOff, FloatArray gamma, int gOff, FloatArray beta, int bOff,
                                 FloatArray out, int outOff, int channels, int spatial, int groups, float eps, int silu) {
        float[] scratch = ctx.allocateFloatLocalArray(THREADS);
        int lid = ctx.localIdx;
        int block = ctx.groupIdx;
        int cpg = channels / groups;
        int count = cpg * spatial;
        int g = block % groups;
        int start = block * count;
        float s = 0.0f;
        for (int i = lid; i < count; i += THREADS) {
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
        float mean = scratch[0] / count;
        ctx.localBarrier();
        float v = 0.0f;
        for (int i = lid; i < count; i += THREADS) {
            float d = x.get(xOff + start + i) - mean;
            v += d * d;
        }
        scratch[lid] = v;
        ctx.localBarrier();
        for (int stride = THREADS / 2; stride > 0; stride /= 2) {
            if (lid < stride) {
                scratch[lid] += scratch[lid + stride];
            }
            ctx.localBarrier();
        }
        float var = scratch[0] / count;
        float inv = 1.0f / TornadoMath.sqrt(var + eps);
        for (int i = lid; i < count; i += THREADS) {
            int c = g * cpg + i / spatial;
            float y = (x.get(xOff + start + i) - mean) * inv * gamma.get(gOff + c) + beta.get(bOff + c);
            if (silu == 1) {
                y = KernelMath.silu(y);
            }
            out.set(outOff + start + i, y);
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
