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
    /**
     * Work-group width of {@link #groupNorm}. Not 1024: TornadoVM's CUDA backend (NVRTC) compiled one
     * specialisation of the kernel to 72 registers, which caps a block at 896 threads, and the 1024-thread launch
     * failed (CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES); 512 threads leave room for 128 registers.
     */
    public static final int GROUP_THREADS = 512;

    private NormKernels() {
    }

    /**
     * GroupNorm over x [N, C, spatial]: work-group g handles batch g / groups, group g % groups, whose
     * channels are one contiguous block of (C / groups) * spatial elements. A group holds up to a million
     * elements (the VAE at 512x512) and there are only N * groups work-groups, so each is {@link #GROUP_THREADS}
     * wide and keeps eight loads in flight per thread: one load at a time left the passes waiting on memory.
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
        int t = GROUP_THREADS;
        int step = 8 * t;
        int whole = count - count % step;
        float s0 = 0.0f;
        float s1 = 0.0f;
        float s2 = 0.0f;
        float s3 = 0.0f;
        float s4 = 0.0f;
        float s5 = 0.0f;
        float s6 = 0.0f;
        float s7 = 0.0f;
        for (int i = lid; i < whole; i += step) {
            int j = start + i;
            s0 += x.get(j);
            s1 += x.get(j + t);
            s2 += x.get(j + 2 * t);
            s3 += x.get(j + 3 * t);
            s4 += x.get(j + 4 * t);
            s5 += x.get(j + 5 * t);
            s6 += x.get(j + 6 * t);
            s7 += x.get(j + 7 * t);
        }
        for (int i = whole + lid; i < count; i += t) {
            s0 += x.get(start + i);
        }
        scratch[lid] = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
        ctx.localBarrier();
        for (int stride = t / 2; stride > 0; stride /= 2) {
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
        float v4 = 0.0f;
        float v5 = 0.0f;
        float v6 = 0.0f;
        float v7 = 0.0f;
        for (int i = lid; i < whole; i += step) {
            int j = start + i;
            float d0 = x.get(j) - mean;
            float d1 = x.get(j + t) - mean;
            float d2 = x.get(j + 2 * t) - mean;
            float d3 = x.get(j + 3 * t) - mean;
            float d4 = x.get(j + 4 * t) - mean;
            float d5 = x.get(j + 5 * t) - mean;
            float d6 = x.get(j + 6 * t) - mean;
            float d7 = x.get(j + 7 * t) - mean;
            v0 += d0 * d0;
            v1 += d1 * d1;
            v2 += d2 * d2;
            v3 += d3 * d3;
            v4 += d4 * d4;
            v5 += d5 * d5;
            v6 += d6 * d6;
            v7 += d7 * d7;
        }
        for (int i = whole + lid; i < count; i += t) {
            float d = x.get(start + i) - mean;
            v0 += d * d;
        }
        scratch[lid] = ((v0 + v1) + (v2 + v3)) + ((v4 + v5) + (v6 + v7));
        ctx.localBarrier();
        for (int stride = t / 2; stride > 0; stride /= 2) {
            if (lid < stride) {
                scratch[lid] += scratch[lid + stride];
            }
            ctx.localBarrier();
        }
        float var = scratch[0] / count;
        float inv = 1.0f / TornadoMath.sqrt(var + eps);
        int o = outOff + block * count;
        for (int i = lid; i < count; i += t) {
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
