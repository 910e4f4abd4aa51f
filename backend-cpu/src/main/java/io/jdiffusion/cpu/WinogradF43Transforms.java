package io.jdiffusion.cpu;

import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;

import static io.jdiffusion.cpu.CpuVectors.F;
import static io.jdiffusion.cpu.CpuVectors.L;
import static io.jdiffusion.cpu.CpuVectors.ORDER;

/** {@link io.jdiffusion.backend.WinogradF43}'s B^T, A^T and G as vector code: 6x6 input tiles, 4x4 output tiles. */
final class WinogradF43Transforms extends WinogradTransforms {
    /** Four phases by two rounds of two-vector even/odd selections. */
    @Override
    void splitPhases(float[] line, int from, float[] phase, int to, int stride) {
        FloatVector v0 = FloatVector.fromArray(F, line, from);
        FloatVector v1 = FloatVector.fromArray(F, line, from + L);
        FloatVector v2 = FloatVector.fromArray(F, line, from + 2 * L);
        FloatVector v3 = FloatVector.fromArray(F, line, from + 3 * L);
        FloatVector e = v0.rearrange(EVEN, v1), e2 = v2.rearrange(EVEN, v3);
        FloatVector d = v0.rearrange(ODD, v1), d2 = v2.rearrange(ODD, v3);
        e.rearrange(EVEN, e2).intoArray(phase, to);
        d.rearrange(EVEN, d2).intoArray(phase, to + stride);
        e.rearrange(ODD, e2).intoArray(phase, to + 2 * stride);
        d.rearrange(ODD, d2).intoArray(phase, to + 3 * stride);
    }

    @Override
    void transformInput(float[] in, int[] at, float[] out, int o, int step) {
        FloatVector d0 = FloatVector.fromArray(F, in, at[0]);
        FloatVector d1 = FloatVector.fromArray(F, in, at[1]);
        FloatVector d2 = FloatVector.fromArray(F, in, at[2]);
        FloatVector d3 = FloatVector.fromArray(F, in, at[3]);
        FloatVector d4 = FloatVector.fromArray(F, in, at[4]);
        FloatVector d5 = FloatVector.fromArray(F, in, at[5]);
        FloatVector a = d2.mul(-4f).add(d4);
        FloatVector b = d1.mul(-4f).add(d3);
        FloatVector c = d4.sub(d2);
        FloatVector e = d3.sub(d1).mul(2f);
        d0.mul(4f).add(d2.mul(-5f)).add(d4).intoArray(out, o);
        a.add(b).intoArray(out, o + step);
        a.sub(b).intoArray(out, o + 2 * step);
        c.add(e).intoArray(out, o + 3 * step);
        c.sub(e).intoArray(out, o + 4 * step);
        d1.mul(4f).add(d3.mul(-5f)).add(d5).intoArray(out, o + 5 * step);
    }

    @Override
    void transformOutput(MemorySegment m, long first, long step, float[] out, int o, int outStep) {
        FloatVector m0 = FloatVector.fromMemorySegment(F, m, 4 * first, ORDER);
        FloatVector m1 = FloatVector.fromMemorySegment(F, m, 4 * (first + step), ORDER);
        FloatVector m2 = FloatVector.fromMemorySegment(F, m, 4 * (first + 2 * step), ORDER);
        FloatVector m3 = FloatVector.fromMemorySegment(F, m, 4 * (first + 3 * step), ORDER);
        FloatVector m4 = FloatVector.fromMemorySegment(F, m, 4 * (first + 4 * step), ORDER);
        FloatVector m5 = FloatVector.fromMemorySegment(F, m, 4 * (first + 5 * step), ORDER);
        FloatVector s12 = m1.add(m2), d12 = m1.sub(m2);
        FloatVector s34 = m3.add(m4), d34 = m3.sub(m4);
        m0.add(s12).add(s34).intoArray(out, o);
        d34.mul(2f).add(d12).intoArray(out, o + outStep);
        s34.mul(4f).add(s12).intoArray(out, o + 2 * outStep);
        d34.mul(8f).add(d12).add(m5).intoArray(out, o + 3 * outStep);
    }

    /** The four output columns interleaved by two rounds of two-vector zips. */
    @Override
    void transformOutputRow(float[] in, int o, float bias, float[] out, int outO) {
        FloatVector m0 = FloatVector.fromArray(F, in, o);
        FloatVector m1 = FloatVector.fromArray(F, in, o + L);
        FloatVector m2 = FloatVector.fromArray(F, in, o + 2 * L);
        FloatVector m3 = FloatVector.fromArray(F, in, o + 3 * L);
        FloatVector m4 = FloatVector.fromArray(F, in, o + 4 * L);
        FloatVector m5 = FloatVector.fromArray(F, in, o + 5 * L);
        FloatVector s12 = m1.add(m2), d12 = m1.sub(m2);
        FloatVector s34 = m3.add(m4), d34 = m3.sub(m4);
        FloatVector y0 = m0.add(s12).add(s34).add(bias);
        FloatVector y1 = d34.mul(2f).add(d12).add(bias);
        FloatVector y2 = s34.mul(4f).add(s12).add(bias);
        FloatVector y3 = d34.mul(8f).add(d12).add(m5).add(bias);
        FloatVector p = y0.rearrange(ZIP_LOW, y2), q = y0.rearrange(ZIP_HIGH, y2);
        FloatVector r = y1.rearrange(ZIP_LOW, y3), u = y1.rearrange(ZIP_HIGH, y3);
        p.rearrange(ZIP_LOW, r).intoArray(out, outO);
        p.rearrange(ZIP_HIGH, r).intoArray(out, outO + L);
        q.rearrange(ZIP_LOW, u).intoArray(out, outO + 2 * L);
        q.rearrange(ZIP_HIGH, u).intoArray(out, outO + 3 * L);
    }

    /** G's rows: 1/4 (1, 0, 0), -1/6 (1, 1, 1), -1/6 (1, -1, 1), (1/24, 1/12, 1/6), (1/24, -1/12, 1/6), (0, 0, 1). */
    @Override
    void combine(float[] in, int i0, int i1, int i2, float[] out, int o, int step) {
        FloatVector g0 = FloatVector.fromArray(F, in, i0);
        FloatVector g1 = FloatVector.fromArray(F, in, i1);
        FloatVector g2 = FloatVector.fromArray(F, in, i2);
        FloatVector outer = g0.add(g2);
        FloatVector ends = g0.mul(1f / 24).add(g2.mul(1f / 6));
        FloatVector middle = g1.mul(1f / 12);
        g0.mul(0.25f).intoArray(out, o);
        outer.add(g1).mul(-1f / 6).intoArray(out, o + step);
        outer.sub(g1).mul(-1f / 6).intoArray(out, o + 2 * step);
        ends.add(middle).intoArray(out, o + 3 * step);
        ends.sub(middle).intoArray(out, o + 4 * step);
        g2.intoArray(out, o + 5 * step);
    }
}
