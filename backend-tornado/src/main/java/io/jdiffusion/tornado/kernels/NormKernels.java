package io.jdiffusion.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * Row-wise reductions, one work-group of {@link #THREADS} threads per normalised block: GroupNorm
 * (+SiLU), LayerNorm and softmax. Statistics use two passes (mean, then the mean of squared deviations)
 * so that large offsets do not cancel; partial sums meet in a local-memory tree. The tree is written out in
 * each kernel: TornadoVM's PTX backend loses the shared address space of a local array passed to a helper.
 * Offsets and sizes come in the task's argument array ({@code args}, see {@link Storage}).
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
     * args: x, gamma, beta and out offsets, channels, spatial, groups.
     */
    public static void groupNorm(KernelContext ctx, HalfFloatArray f16, int halves, IntArray args, FloatArray x, FloatArray gamma,
                                 FloatArray beta, FloatArray out, float eps, int silu) {
        float[] scratch = ctx.allocateFloatLocalArray(GROUP_THREADS);
        int xOff = args.get(0);
        int gOff = args.get(1);
        int bOff = args.get(2);
        int outOff = args.get(3);
        int channels = args.get(4);
        int spatial = args.get(5);
        int groups = args.get(6);
        boolean xHalf = Storage.half(halves, Storage.X);
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
            s0 += Storage.load(x, f16, j, xHalf);
            s1 += Storage.load(x, f16, j + t, xHalf);
            s2 += Storage.load(x, f16, j + 2 * t, xHalf);
            s3 += Storage.load(x, f16, j + 3 * t, xHalf);
            s4 += Storage.load(x, f16, j + 4 * t, xHalf);
            s5 += Storage.load(x, f16, j + 5 * t, xHalf);
            s6 += Storage.load(x, f16, j + 6 * t, xHalf);
            s7 += Storage.load(x, f16, j + 7 * t, xHalf);
        }
        for (int i = whole + lid; i < count; i += t) {
            s0 += Storage.load(x, f16, start + i, xHalf);
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
            float d0 = Storage.load(x, f16, j, xHalf) - mean;
            float d1 = Storage.load(x, f16, j + t, xHalf) - mean;
            float d2 = Storage.load(x, f16, j + 2 * t, xHalf) - mean;
            float d3 = Storage.load(x, f16, j + 3 * t, xHalf) - mean;
            float d4 = Storage.load(x, f16, j + 4 * t, xHalf) - mean;
            float d5 = Storage.load(x, f16, j + 5 * t, xHalf) - mean;
            float d6 = Storage.load(x, f16, j + 6 * t, xHalf) - mean;
            float d7 = Storage.load(x, f16, j + 7 * t, xHalf) - mean;
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
            float d = Storage.load(x, f16, start + i, xHalf) - mean;
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
            normaliseOne(f16, halves, gamma, beta, out, o + i, Storage.load(x, f16, start + i, xHalf), g * cpg + i / spatial, gOff, bOff, mean,
                    inv, silu);
        }
    }

    /** out[at] = (v - mean) * inv * gamma[c] + beta[c], then SiLU where {@code silu} is 1. */
    private static void normaliseOne(HalfFloatArray f16, int halves, FloatArray gamma, FloatArray beta, FloatArray out, int at, float v, int c,
                                     int gOff, int bOff, float mean, float inv, int silu) {
        float scale = inv * Storage.load(gamma, f16, gOff + c, Storage.half(halves, Storage.Y));
        float y = (v - mean) * scale + Storage.load(beta, f16, bOff + c, Storage.half(halves, Storage.Z));
        if (silu == 1) {
            y = KernelMath.silu(y);
        }
        Storage.store(out, f16, at, y, Storage.half(halves, Storage.OUT));
    }

    /**
     * Elements of one slice of a group that {@link #groupNormStats} and {@link #groupNormApply} split, by default:
     * a group of two slices or more ({@link #splits}) runs as two launches of N * groups * slices work-groups,
     * instead of {@link #groupNorm}'s N * groups. The VAE's groups at 512x512 hold up to a million elements and
     * there are 32 of them: one work-group each kept 32 of the H200's 132 multiprocessors busy (0.46 ms a launch,
     * 14 ms of the decode on 2026-12-05). The slice length is an argument of both kernels, so that it can be
     * measured ({@code TornadoSettings#groupNormSlice}).
     */
    public static final int DEFAULT_SLICE = 16384;

    /** Whether a group of {@code count} elements runs split into slices of {@code slice}: two slices or more. */
    public static boolean splits(long count, int slice) {
        return count >= 2L * slice;
    }

    /** Slices of a group of {@code count} elements: whole slices of {@code slice} elements and a shorter last one. */
    public static int slices(long count, int slice) {
        return (int) ((count + slice - 1) / slice);
    }

    /**
     * The statistics of one slice of a group (see {@link #DEFAULT_SLICE}): work-group w handles slice w % slices of block
     * w / slices (batch * groups + group, whose {@code count} elements are contiguous) and writes the slice's mean
     * and its sum of squared deviations from that mean to partials[2w] and [2w + 1]. Two passes over the slice
     * (the second from cache) so that a large offset does not cancel; {@link #groupNormApply} merges the slices.
     * args: x offset, count, slices.
     */
    public static void groupNormStats(KernelContext ctx, HalfFloatArray f16, int halves, IntArray args, FloatArray x, FloatArray partials) {
        float[] scratch = ctx.allocateFloatLocalArray(THREADS);
        int xOff = args.get(0);
        int count = args.get(1);
        int slices = args.get(2);
        int sliceLength = args.get(3);
        boolean xHalf = Storage.half(halves, Storage.X);
        int lid = ctx.localIdx;
        int w = ctx.groupIdx;
        int slice = w % slices;
        int start = xOff + (w / slices) * count + slice * sliceLength;
        int n = Math.min(sliceLength, count - slice * sliceLength);
        float s0 = 0.0f;
        float s1 = 0.0f;
        float s2 = 0.0f;
        float s3 = 0.0f;
        int whole = n - n % (4 * THREADS);
        for (int i = lid; i < whole; i += 4 * THREADS) {
            s0 += Storage.load(x, f16, start + i, xHalf);
            s1 += Storage.load(x, f16, start + i + THREADS, xHalf);
            s2 += Storage.load(x, f16, start + i + 2 * THREADS, xHalf);
            s3 += Storage.load(x, f16, start + i + 3 * THREADS, xHalf);
        }
        for (int i = whole + lid; i < n; i += THREADS) {
            s0 += Storage.load(x, f16, start + i, xHalf);
        }
        scratch[lid] = (s0 + s1) + (s2 + s3);
        ctx.localBarrier();
        for (int stride = THREADS / 2; stride > 0; stride /= 2) {
            if (lid < stride) {
                scratch[lid] += scratch[lid + stride];
            }
            ctx.localBarrier();
        }
        float mean = scratch[0] / n;
        ctx.localBarrier();
        float v0 = 0.0f;
        float v1 = 0.0f;
        float v2 = 0.0f;
        float v3 = 0.0f;
        for (int i = lid; i < whole; i += 4 * THREADS) {
            float d0 = Storage.load(x, f16, start + i, xHalf) - mean;
            float d1 = Storage.load(x, f16, start + i + THREADS, xHalf) - mean;
            float d2 = Storage.load(x, f16, start + i + 2 * THREADS, xHalf) - mean;
            float d3 = Storage.load(x, f16, start + i + 3 * THREADS, xHalf) - mean;
            v0 += d0 * d0;
            v1 += d1 * d1;
            v2 += d2 * d2;
            v3 += d3 * d3;
        }
        for (int i = whole + lid; i < n; i += THREADS) {
            float d = Storage.load(x, f16, start + i, xHalf) - mean;
            v0 += d * d;
        }
        scratch[lid] = (v0 + v1) + (v2 + v3);
        ctx.localBarrier();
        for (int stride = THREADS / 2; stride > 0; stride /= 2) {
            if (lid < stride) {
                scratch[lid] += scratch[lid + stride];
            }
            ctx.localBarrier();
        }
        if (lid == 0) {
            partials.set(2 * w, mean);
            partials.set(2 * w + 1, scratch[0]);
        }
    }

    /**
     * GroupNorm (+SiLU) of one slice of a group from the partials of {@link #groupNormStats}: the first thread
     * merges the group's slices (Chan et al.'s pairwise update of mean and squared deviations, exact for any
     * offset), then every thread normalises its elements of the slice. args: x, gamma, beta and out offsets, channels,
     * spatial, groups, slices.
     */
    public static void groupNormApply(KernelContext ctx, HalfFloatArray f16, int halves, IntArray args, FloatArray x, FloatArray partials,
                                      FloatArray gamma, FloatArray beta, FloatArray out, float eps, int silu) {
        float[] stats = ctx.allocateFloatLocalArray(2);
        float[] part = ctx.allocateFloatLocalArray(2 * THREADS);
        int xOff = args.get(0);
        int gOff = args.get(1);
        int bOff = args.get(2);
        int outOff = args.get(3);
        int channels = args.get(4);
        int spatial = args.get(5);
        int groups = args.get(6);
        int slices = args.get(7);
        int sliceLength = args.get(8);
        int lid = ctx.localIdx;
        int w = ctx.groupIdx;
        int block = w / slices;
        int slice = w % slices;
        int cpg = channels / groups;
        int count = cpg * spatial;
        // The slices' partials come into local memory THREADS at a time, one load per thread, and the first thread
        // merges them from there: one thread reading them from global memory waited on each in turn (up to 256).
        float total = 0.0f;
        float groupMean = 0.0f;
        float m2 = 0.0f;
        for (int s0 = 0; s0 < slices; s0 += THREADS) {
            if (s0 + lid < slices) {
                part[2 * lid] = partials.get(2 * (block * slices + s0 + lid));
                part[2 * lid + 1] = partials.get(2 * (block * slices + s0 + lid) + 1);
            }
            ctx.localBarrier();
            if (lid == 0) {
                int loaded = Math.min(THREADS, slices - s0);
                for (int j = 0; j < loaded; j++) {
                    float ns = Math.min(sliceLength, count - (s0 + j) * sliceLength);
                    float delta = part[2 * j] - groupMean;
                    float merged = total + ns;
                    groupMean += delta * (ns / merged);
                    m2 += part[2 * j + 1] + delta * delta * (total * ns / merged);
                    total = merged;
                }
            }
            ctx.localBarrier();
        }
        if (lid == 0) {
            stats[0] = groupMean;
            stats[1] = 1.0f / TornadoMath.sqrt(m2 / count + eps);
        }
        ctx.localBarrier();
        float mean = stats[0];
        float inv = stats[1];
        int g = block % groups;
        int first = slice * sliceLength;
        int n = Math.min(sliceLength, count - first);
        int xStart = xOff + block * count + first;
        int outStart = outOff + block * count + first;
        int c0 = g * cpg;
        // Four elements a thread at a time, their loads ahead of the stores: x and out may be the same F16 arena, so
        // the compiler cannot move a load above the store before it, and one load at a time left this pass waiting
        // on memory. (Written out here: TornadoVM does not inline a method holding this loop, over 600 nodes.)
        boolean xHalf = Storage.half(halves, Storage.X);
        int step = 4 * THREADS;
        int whole = n - n % step;
        for (int i = lid; i < whole; i += step) {
            float x0 = Storage.load(x, f16, xStart + i, xHalf);
            float x1 = Storage.load(x, f16, xStart + i + THREADS, xHalf);
            float x2 = Storage.load(x, f16, xStart + i + 2 * THREADS, xHalf);
            float x3 = Storage.load(x, f16, xStart + i + 3 * THREADS, xHalf);
            normaliseOne(f16, halves, gamma, beta, out, outStart + i, x0, c0 + (first + i) / spatial, gOff, bOff, mean, inv, silu);
            normaliseOne(f16, halves, gamma, beta, out, outStart + i + THREADS, x1, c0 + (first + i + THREADS) / spatial, gOff, bOff, mean,
                    inv, silu);
            normaliseOne(f16, halves, gamma, beta, out, outStart + i + 2 * THREADS, x2, c0 + (first + i + 2 * THREADS) / spatial, gOff, bOff,
                    mean, inv, silu);
            normaliseOne(f16, halves, gamma, beta, out, outStart + i + 3 * THREADS, x3, c0 + (first + i + 3 * THREADS) / spatial, gOff, bOff,
                    mean, inv, silu);
        }
        for (int i = whole + lid; i < n; i += THREADS) {
            normaliseOne(f16, halves, gamma, beta, out, outStart + i, Storage.load(x, f16, xStart + i, xHalf), c0 + (first + i) / spatial,
                    gOff, bOff, mean, inv, silu);
        }
    }

    /** LayerNorm of each row of x [rows, d]; work-group r handles row r. args: x, gamma, beta and out offsets, d. */
    public static void layerNorm(KernelContext ctx, HalfFloatArray f16, int halves, IntArray args, FloatArray x, FloatArray gamma,
                                 FloatArray beta, FloatArray out, float eps) {
        float[] scratch = ctx.allocateFloatLocalArray(THREADS);
        int xOff = args.get(0);
        int gOff = args.get(1);
        int bOff = args.get(2);
        int outOff = args.get(3);
        int d = args.get(4);
        boolean xHalf = Storage.half(halves, Storage.X);
        boolean gammaHalf = Storage.half(halves, Storage.Y);
        boolean betaHalf = Storage.half(halves, Storage.Z);
        boolean outHalf = Storage.half(halves, Storage.OUT);
        int lid = ctx.localIdx;
        int start = ctx.groupIdx * d;
        float s = 0.0f;
        for (int i = lid; i < d; i += THREADS) {
            s += Storage.load(x, f16, xOff + start + i, xHalf);
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
            float dev = Storage.load(x, f16, xOff + start + i, xHalf) - mean;
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
            float scale = inv * Storage.load(gamma, f16, gOff + i, gammaHalf);
            float y = (Storage.load(x, f16, xOff + start + i, xHalf) - mean) * scale + Storage.load(beta, f16, bOff + i, betaHalf);
            Storage.store(out, f16, outOff + start + i, y, outHalf);
        }
    }

    /**
     * Softmax of {@code scale} times each row of x [rows, d] ({@code scale} > 0; 1 for the operator, the attention's
     * scale for {@code WideHeadAttention}'s scores); work-group r handles row r. args: x offset, out offset, d.
     */
    public static void softmax(KernelContext ctx, HalfFloatArray f16, int halves, IntArray args, FloatArray x, FloatArray out, float scale) {
        float[] scratch = ctx.allocateFloatLocalArray(THREADS);
        int xOff = args.get(0);
        int outOff = args.get(1);
        int d = args.get(2);
        boolean xHalf = Storage.half(halves, Storage.X);
        boolean outHalf = Storage.half(halves, Storage.OUT);
        int lid = ctx.localIdx;
        int start = ctx.groupIdx * d;
        float m = KernelMath.MASKED;
        for (int i = lid; i < d; i += THREADS) {
            m = Math.max(m, Storage.load(x, f16, xOff + start + i, xHalf));
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
            s += TornadoMath.exp((Storage.load(x, f16, xOff + start + i, xHalf) - max) * scale);
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
            float p = TornadoMath.exp((Storage.load(x, f16, xOff + start + i, xHalf) - max) * scale) * inv;
            Storage.store(out, f16, outOff + start + i, p, outHalf);
        }
    }
}
