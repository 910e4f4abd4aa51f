package io.jdiffusion.cpu;

import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;

import static io.jdiffusion.cpu.CpuVectors.F;
import static io.jdiffusion.cpu.CpuVectors.L;
import static io.jdiffusion.cpu.CpuVectors.ORDER;

/**
 * {@link io.jdiffusion.backend.WinogradF23}'s B^T, A^T and G as vector code: 4x4 input tiles, 2x2 output tiles.
 * Every coefficient is 0, 1, -1 or 1/2, so the input and output transforms are adds alone.
 */
final class WinogradF23Transforms extends WinogradTransforms {
    /** Two phases by one two-vector even/odd selection. */
    @Override
    void splitPhases(float[] line, int from, float[] phase, int to, int stride) {
        FloatVector v0 = FloatVector.fromArray(F, line, from);
        FloatVector v1 = FloatVector.fromArray(F, line, from + L);
        v0.rearrange(EVEN, v1).intoArray(phase, to);
        v0.rearrange(ODD, v1).intoArray(phase, to + stride);
    }

    /** B^T's rows: (1, 0, -1, 0), (0, 1, 1, 0), (0, -1, 1, 0), (0, -1, 0, 1). */
    @Override
    void transformInput(float[] in, int[] at, float[] out, int o, int step) {
        FloatVector d0 = FloatVector.fromArray(F, in, at[0]);
        FloatVector d1 = FloatVector.fromArray(F, in, at[1]);
        FloatVector d2 = FloatVector.fromArray(F, in, at[2]);
        FloatVector d3 = FloatVector.fromArray(F, in, at[3]);
        d0.sub(d2).intoArray(out, o);
        d1.add(d2).intoArray(out, o + step);
        d2.sub(d1).intoArray(out, o + 2 * step);
        d3.sub(d1).intoArray(out, o + 3 * step);
    }

    /** A^T's rows: (1, 1, 1, 0), (0, 1, -1, 1). */
    @Override
    void transformOutput(MemorySegment m, long first, long step, float[] out, int o, int outStep) {
        FloatVector m0 = FloatVector.fromMemorySegment(F, m, 4 * first, ORDER);
        FloatVector m1 = FloatVector.fromMemorySegment(F, m, 4 * (first + step), ORDER);
        FloatVector m2 = FloatVector.fromMemorySegment(F, m, 4 * (first + 2 * step), ORDER);
        FloatVector m3 = FloatVector.fromMemorySegment(F, m, 4 * (first + 3 * step), ORDER);
        m0.add(m1).add(m2).intoArray(out, o);
        m1.sub(m2).add(m3).intoArray(out, o + outStep);
    }

    /** The two output columns interleaved by one two-vector zip. */
    @Override
    void transformOutputRow(float[] in, int o, float bias, float[] out, int outO) {
        FloatVector m0 = FloatVector.fromArray(F, in, o);
        FloatVector m1 = FloatVector.fromArray(F, in, o + L);
        FloatVector m2 = FloatVector.fromArray(F, in, o + 2 * L);
        FloatVector m3 = FloatVector.fromArray(F, in, o + 3 * L);
        FloatVector y0 = m0.add(m1).add(m2).add(bias);
        FloatVector y1 = m1.sub(m2).add(m3).add(bias);
        y0.rearrange(ZIP_LOW, y1).intoArray(out, outO);
        y0.rearrange(ZIP_HIGH, y1).intoArray(out, outO + L);
    }

    /** G's rows: (1, 0, 0), 1/2 (1, 1, 1), 1/2 (1, -1, 1), (0, 0, 1). */
    @Override
    void combine(float[] in, int i0, int i1, int i2, float[] out, int o, int step) {
        FloatVector g0 = FloatVector.fromArray(F, in, i0);
        FloatVector g1 = FloatVector.fromArray(F, in, i1);
        FloatVector g2 = FloatVector.fromArray(F, in, i2);
        FloatVector outer = g0.add(g2).mul(0.5f);
        FloatVector middle = g1.mul(0.5f);
        g0.intoArray(out, o);
        outer.add(middle).intoArray(out, o + step);
        outer.sub(middle).intoArray(out, o + 2 * step);
        g2.intoArray(out, o + 3 * step);
    }
}
