package io.jdiffusion.cpu;

import io.jdiffusion.core.Tensor;

import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

import static io.jdiffusion.cpu.CpuVectors.F;
import static io.jdiffusion.cpu.CpuVectors.FLOAT;
import static io.jdiffusion.cpu.CpuVectors.L;
import static io.jdiffusion.cpu.CpuVectors.ORDER;
import static io.jdiffusion.cpu.Gemm.MR;
import static io.jdiffusion.cpu.Gemm.NR;

/**
 * Lays GEMM operands out as {@link Gemm} panels. Weights are packed once, at compile time, and F16/BF16
 * weights are widened to F32 on the way; activations are packed at run time into workspace arrays.
 */
final class Packing {
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(CpuVectors.ORDER);

    private Packing() {
    }

    /** Row {@code row} (elements [row*k, row*k + k)) of a float tensor of any float dtype, as F32. */
    static void readRow(Tensor t, long row, int k, float[] dst) {
        MemorySegment s = t.segment();
        long first = row * k;
        switch (t.dtype()) {
            case F32 -> MemorySegment.copy(s, FLOAT, 4 * first, dst, 0, k);
            case F16 -> {
                for (int i = 0; i < k; i++) {
                    dst[i] = Float.float16ToFloat(s.getAtIndex(SHORT, first + i));
                }
            }
            case BF16 -> {
                for (int i = 0; i < k; i++) {
                    dst[i] = Float.intBitsToFloat((s.getAtIndex(SHORT, first + i) & 0xFFFF) << 16);
                }
            }
            default -> throw new IllegalArgumentException("weights must be F32, F16 or BF16, got " + t.dtype() + " " + t.shape());
        }
    }

    /** The F32 values of a 1-D operand (a bias), copied to the heap. */
    static float[] toArray(MemorySegment segment, int n) {
        float[] a = new float[n];
        MemorySegment.copy(segment, FLOAT, 0, a, 0, n);
        return a;
    }

    /** Values in A panels of a weight matrix [m, k] (convolution weights, rows = output channels). */
    static long sizeA(int m, int k) {
        return (long) Gemm.panelsA(m) * k * MR;
    }

    /** A packed from the rows of a weight matrix [m, k] into {@code dst} (at least {@link #sizeA} values, zeroed). */
    static PackedWeights packAFromWeights(Tensor w, int m, int k, PackedWeights dst) {
        float[] row = new float[k];
        for (int i = 0; i < m; i++) {
            readRow(w, i, k, row);
            dst.write((long) (i / MR) * k * MR + (long) (i % MR) * k, row, 0, k);
        }
        return dst;
    }

    /** Number of B panels for {@code n} weight rows: n / 2 output columns of L per panel for GEGLU. */
    static int panelsForWeights(int n, boolean geglu) {
        return geglu ? (n / 2 + L - 1) / L : Gemm.panelsB(n);
    }

    /**
     * B = W^T packed from a linear weight W [n, k] (PyTorch layout: row j is output column j). For GEGLU
     * panel p holds output columns [p*L, p*L + L) of h (rows c) in its first vector and of the gate
     * (rows n/2 + c) in its second.
     */
    static PackedWeights packBFromWeights(Tensor w, int n, int k, boolean geglu, PackedWeights dst) {
        int panels = panelsForWeights(n, geglu);
        float[] panel = new float[k * NR];
        float[] row = new float[k];
        for (int p = 0; p < panels; p++) {
            Arrays.fill(panel, 0f); // zero padding past n
            for (int j = 0; j < NR; j++) {
                int source;
                if (geglu) {
                    int c = p * L + (j % L);
                    source = c < n / 2 ? (j < L ? c : n / 2 + c) : -1;
                } else {
                    int c = p * NR + j;
                    source = c < n ? c : -1;
                }
                if (source < 0) {
                    continue;
                }
                readRow(w, source, k, row);
                for (int kk = 0; kk < k; kk++) {
                    panel[kk * NR + j] = row[kk];
                }
            }
            dst.write((long) p * k * NR, panel, 0, k * NR);
        }
        return dst;
    }

    /** Values in the B panels of a linear weight [n, k]. */
    static long sizeB(int n, int k, boolean geglu) {
        return (long) panelsForWeights(n, geglu) * k * NR;
    }

    /**
     * A panels [first, end) packed from activations (rows of length k, {@code rowStride} apart, from element
     * {@code base}) into {@code dst} from offset 0; rows past m are zero.
     */
    static void packAPanels(MemorySegment x, long base, long rowStride, int m, int k, int first, int end, float[] dst) {
        for (int p = first; p < end; p++) {
            int pBase = (p - first) * k * MR;
            for (int r = 0; r < MR; r++) {
                int i = p * MR + r;
                if (i < m) {
                    MemorySegment.copy(x, FLOAT, 4 * (base + i * rowStride), dst, pBase + r * k, k);
                } else {
                    Arrays.fill(dst, pBase + r * k, pBase + r * k + k, 0f);
                }
            }
        }
    }

    /**
     * B packed at run time from {@code n} columns of a row-major activation matrix with rows {@code rowStride}
     * apart, starting at element {@code base} (a 1x1 convolution's input image, or a column chunk of it), into
     * {@code dst} from {@code dstOffset}.
     */
    static void packBRows(MemorySegment x, long base, int k, int n, long rowStride, float[] dst, int dstOffset,
                          WorkerPool pool) {
        pool.forRange(Gemm.panelsB(n), 4, (from, to) -> packBRows(x, base, k, n, rowStride, (int) from, (int) to, dst,
                dstOffset + (int) from * k * NR));
    }

    /**
     * Panels [first, end) of that B, in the calling thread, panel first at dst[dstOffset] (a GEMM task packing
     * its own block of B).
     */
    static void packBRows(MemorySegment x, long base, int k, int n, long rowStride, int first, int end, float[] dst,
                          int dstOffset) {
        for (int p = first; p < end; p++) {
            int c0 = p * NR;
            int cols = Math.min(NR, n - c0);
            int pBase = dstOffset + (p - first) * k * NR;
            if (cols == NR) {
                // a whole panel row is two vectors (at 512 bits): two loads and stores instead of a bulk copy call
                // per row, whose setup is most of the cost at 128 bytes (the 1x1 convolutions took 5-10% less)
                for (int kk = 0; kk < k; kk++) {
                    long row = 4 * (base + kk * rowStride + c0);
                    int d = pBase + kk * NR;
                    for (int v = 0; v < NR; v += L) {
                        FloatVector.fromMemorySegment(F, x, row + 4L * v, ORDER).intoArray(dst, d + v);
                    }
                }
                continue;
            }
            for (int kk = 0; kk < k; kk++) {
                int d = pBase + kk * NR;
                MemorySegment.copy(x, FLOAT, 4 * (base + kk * rowStride + c0), dst, d, cols);
                Arrays.fill(dst, d + cols, d + NR, 0f);
            }
        }
    }
}
