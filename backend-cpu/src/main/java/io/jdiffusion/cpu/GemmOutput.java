package io.jdiffusion.cpu;

import io.jdiffusion.backend.graph.Activation;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

import java.lang.foreign.MemorySegment;

import static io.jdiffusion.cpu.CpuVectors.F;
import static io.jdiffusion.cpu.CpuVectors.L;
import static io.jdiffusion.cpu.CpuVectors.ORDER;

/**
 * Where a GEMM's tiles go and what is fused on the way: out[base + row * rowStride + col] =
 * act(tile + bias) + residual[...], written once. Bias is per output column (linear layers) or per row
 * (convolutions, whose rows are output channels). With {@link Activation#GEGLU} each B panel holds the h
 * and the gate of the same L output columns in its two vectors, and the stored value is h * gelu(gate);
 * the bias then has 2n entries, the gate's starting at {@code n}. The bias is a heap copy: vector loads
 * from arrays compile reliably inside this (too large to inline) method.
 */
final class GemmOutput {
    private final MemorySegment out;
    private final long base;
    private final long rowStride;
    private final float[] bias;
    private final boolean biasPerRow;
    private final long gateBiasOffset;
    private final Activation act;
    private final MemorySegment residual;

    GemmOutput(MemorySegment out, long base, long rowStride, float[] bias, boolean biasPerRow,
               long gateBiasOffset, Activation act, MemorySegment residual) {
        this.out = out;
        this.base = base;
        this.rowStride = rowStride;
        this.bias = bias;
        this.biasPerRow = biasPerRow;
        this.gateBiasOffset = gateBiasOffset;
        this.act = act;
        this.residual = residual;
    }

    int columnsPerPanel() {
        return act == Activation.GEGLU ? L : Gemm.NR;
    }

    void store(float[] tile, int row0, int rows, int col0, int cols) {
        for (int r = 0; r < rows; r++) {
            long o = base + (long) (row0 + r) * rowStride + col0;
            int t = r * Gemm.NR;
            if (act == Activation.GEGLU) {
                VectorMask<Float> m = F.indexInRange(0, cols);
                FloatVector h = FloatVector.fromArray(F, tile, t);
                FloatVector g = FloatVector.fromArray(F, tile, t + L);
                if (bias != null) {
                    h = h.add(FloatVector.fromArray(F, bias, col0, m));
                    g = g.add(FloatVector.fromArray(F, bias, (int) gateBiasOffset + col0, m));
                }
                storeVector(ActivationMath.geglu(h, g), o, m, cols == L);
                continue;
            }
            FloatVector rowBias = bias != null && biasPerRow
                    ? FloatVector.broadcast(F, bias[row0 + r]) : null;
            for (int v = 0; v < 2 && v * L < cols; v++) {
                boolean full = v * L + L <= cols;
                VectorMask<Float> m = full ? null : F.indexInRange(v * L, cols);
                FloatVector x = FloatVector.fromArray(F, tile, t + v * L);
                if (rowBias != null) {
                    x = x.add(rowBias);
                } else if (bias != null) {
                    int bo = col0 + v * L;
                    x = x.add(full ? FloatVector.fromArray(F, bias, bo) : FloatVector.fromArray(F, bias, bo, m));
                }
                x = ActivationMath.apply(act, x);
                storeVector(x, o + v * L, m, full);
            }
        }
    }

    private void storeVector(FloatVector x, long o, VectorMask<Float> m, boolean full) {
        long bytes = 4L * o;
        if (full) {
            if (residual != null) {
                x = x.add(FloatVector.fromMemorySegment(F, residual, bytes, ORDER));
            }
            x.intoMemorySegment(out, bytes, ORDER);
        } else {
            if (residual != null) {
                x = x.add(FloatVector.fromMemorySegment(F, residual, bytes, ORDER, m));
            }
            x.intoMemorySegment(out, bytes, ORDER, m);
        }
    }
}
