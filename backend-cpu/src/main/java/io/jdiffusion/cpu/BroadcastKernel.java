package io.jdiffusion.cpu;

import jdk.incubator.vector.FloatVector;

import static io.jdiffusion.cpu.CpuVectors.F;
import static io.jdiffusion.cpu.CpuVectors.L;

/**
 * A 2 x 6-vector register tile (12 accumulators) whose A operand is broadcast from a plain array: per k
 * step two scalar broadcasts, six vector loads of B and twelve FMAs.
 *
 * <p>Two broadcasts per twelve FMAs cost nothing measurable: on the AVX2 machine measured here (single
 * thread, L1-resident operands, depth 64) this tile ran at 83-87 GFLOP/s against an FMA peak of 84-86, the
 * same as with A stored pre-broadcast (every value as a whole vector, L times the memory), while a 4 x
 * 3-vector tile (four broadcasts per twelve FMAs) ran at half that. ({@link Gemm}'s 6 x 2-vector tile, six
 * broadcasts per two B loads, also runs at the peak under the launcher's {@code -XX:+UseCountedLoopSafepoints};
 * without that flag it fell to about half: docs/PERFORMANCE.md, "Two traps".) So A needs no copy at all when
 * its two rows and its depth are a fixed step apart: attention's K (rows are keys, depth their channels)
 * and V (rows are value channels, depth the keys) are read in their natural row-major layout.
 *
 * <p>Layouts for depth k: A[r][p] at {@code ai + r * rowStep + p * depthStep}; B panel, B[p][j] at
 * {@code bi + p * COLS + j}.
 */
final class BroadcastKernel {
    /** Rows of the tile. */
    static final int ROWS = 2;
    /** Columns of the tile: six vectors. */
    static final int COLS = 6 * L;

    private BroadcastKernel() {
    }

    /** The ROWS x COLS tile over depth k, written to {@code out} from {@code o} with row stride {@code stride}. */
    static void kernel(float[] a, int ai, int rowStep, int depthStep, float[] b, int bi, int k, float[] out, int o, int stride) {
        FloatVector c00 = FloatVector.zero(F), c01 = FloatVector.zero(F), c02 = FloatVector.zero(F);
        FloatVector c03 = FloatVector.zero(F), c04 = FloatVector.zero(F), c05 = FloatVector.zero(F);
        FloatVector c10 = FloatVector.zero(F), c11 = FloatVector.zero(F), c12 = FloatVector.zero(F);
        FloatVector c13 = FloatVector.zero(F), c14 = FloatVector.zero(F), c15 = FloatVector.zero(F);
        for (int p = 0; p < k; p++, bi += COLS, ai += depthStep) {
            FloatVector x0 = FloatVector.broadcast(F, a[ai]);
            FloatVector x1 = FloatVector.broadcast(F, a[ai + rowStep]);
            FloatVector y = FloatVector.fromArray(F, b, bi);
            c00 = x0.fma(y, c00);
            c10 = x1.fma(y, c10);
            y = FloatVector.fromArray(F, b, bi + L);
            c01 = x0.fma(y, c01);
            c11 = x1.fma(y, c11);
            y = FloatVector.fromArray(F, b, bi + 2 * L);
            c02 = x0.fma(y, c02);
            c12 = x1.fma(y, c12);
            y = FloatVector.fromArray(F, b, bi + 3 * L);
            c03 = x0.fma(y, c03);
            c13 = x1.fma(y, c13);
            y = FloatVector.fromArray(F, b, bi + 4 * L);
            c04 = x0.fma(y, c04);
            c14 = x1.fma(y, c14);
            y = FloatVector.fromArray(F, b, bi + 5 * L);
            c05 = x0.fma(y, c05);
            c15 = x1.fma(y, c15);
        }
        c00.intoArray(out, o);
        c01.intoArray(out, o + L);
        c02.intoArray(out, o + 2 * L);
        c03.intoArray(out, o + 3 * L);
        c04.intoArray(out, o + 4 * L);
        c05.intoArray(out, o + 5 * L);
        c10.intoArray(out, o + stride);
        c11.intoArray(out, o + stride + L);
        c12.intoArray(out, o + stride + 2 * L);
        c13.intoArray(out, o + stride + 3 * L);
        c14.intoArray(out, o + stride + 4 * L);
        c15.intoArray(out, o + stride + 5 * L);
    }
}
