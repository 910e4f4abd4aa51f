package io.jdiffusion.cpu;

import jdk.incubator.vector.VectorShuffle;

import java.lang.foreign.MemorySegment;

import static io.jdiffusion.cpu.CpuVectors.F;
import static io.jdiffusion.cpu.CpuVectors.L;

/**
 * The vector transforms of one Winograd tile size, written out per size (each is a handful of adds whose
 * shared subexpressions a generic matrix loop would lose). Lanes are tiles in the input and output
 * transforms and input channels in the filter transform. Vectors never cross a method boundary (that would
 * box them): every method takes and returns arrays.
 */
abstract class WinogradTransforms {
    /**
     * The TILE_OUT phases of TILE_OUT * L consecutive floats, P_k[t] = line[from + TILE_OUT t + k], stored at
     * phase[to + k * stride + t].
     */
    abstract void splitPhases(float[] line, int from, float[] phase, int to, int stride);

    /** B^T applied to the TILE_IN vectors at in[at[0]], in[at[1]], ..., the results stored at out[o + i * step]. */
    abstract void transformInput(float[] in, int[] at, float[] out, int o, int step);

    /**
     * A^T applied down a column of M: the TILE_IN vectors m[first + k * step] (elements) give TILE_OUT rows
     * stored at out[o + i * outStep]. The GEMM result segment is padded by a vector, so full loads past the
     * last tile stay in bounds.
     */
    abstract void transformOutput(MemorySegment m, long first, long step, float[] out, int o, int outStep);

    /**
     * A^T applied along a row of the half-transformed tile (TILE_IN vectors at in[o + k * L], lanes = tiles),
     * plus the bias, giving y_j[t] for the TILE_OUT output columns j of each tile t; written to out[outO...] as
     * one output row, y_0[0] y_1[0] ... y_0[1] ..., TILE_OUT vectors.
     */
    abstract void transformOutputRow(float[] in, int o, float bias, float[] out, int outO);

    /** The TILE_IN rows of G applied to three vectors g0, g1, g2 at in[i0], in[i1], in[i2], stored at out[o + i * step]. */
    abstract void combine(float[] in, int i0, int i1, int i2, float[] out, int o, int step);

    /** Two-vector shuffles: lane i of a.rearrange(s, b) takes a[s_i] for s_i < L and b[s_i - L] otherwise. */
    static final VectorShuffle<Float> ZIP_LOW = shuffle(i -> i % 2 == 0 ? i / 2 : L + i / 2);
    static final VectorShuffle<Float> ZIP_HIGH = shuffle(i -> i % 2 == 0 ? L / 2 + i / 2 : L + L / 2 + i / 2);
    static final VectorShuffle<Float> EVEN = shuffle(i -> 2 * i);
    static final VectorShuffle<Float> ODD = shuffle(i -> 2 * i + 1);

    private static VectorShuffle<Float> shuffle(java.util.function.IntUnaryOperator source) {
        int[] indices = new int[L];
        for (int i = 0; i < L; i++) {
            indices[i] = source.applyAsInt(i);
        }
        return VectorShuffle.fromArray(F, indices, 0);
    }
}
