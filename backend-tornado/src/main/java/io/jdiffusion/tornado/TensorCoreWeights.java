package io.jdiffusion.tornado;

import io.jdiffusion.core.Tensor;
import io.jdiffusion.tornado.kernels.TensorCoreKernels;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The F16 weight layouts {@link TensorCoreKernels} read, zero-padded to whole tiles so that the kernels load
 * weight tiles without bounds checks:
 * <ul>
 *   <li>Linear: the weight [n, k] transposed to [kPadded, stride]: stride is n rounded up to 128 columns, or
 *       for GEGLU twice {@code halfPadded} (value columns first, gate columns from {@code halfPadded}).</li>
 *   <li>Conv2d: the weight [cout, cin*kh*kw] as it is, rows rounded up to 128 and columns to 16.</li>
 * </ul>
 */
final class TensorCoreWeights {
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;

    private TensorCoreWeights() {
    }

    /** Geometry of one linear weight's layout. */
    record LinearLayout(int n, int k, boolean geglu) {
        int kPadded() {
            return roundUp(k, TensorCoreKernels.BLOCK_K);
        }

        int halfPadded() {
            return geglu ? roundUp(n / 2, TensorCoreKernels.GEGLU_COLUMNS) : 0;
        }

        int stride() {
            return geglu ? 2 * halfPadded() : roundUp(n, TensorCoreKernels.BLOCK_N);
        }

        long elements() {
            return (long) kPadded() * stride();
        }

        /** Column of output feature j (a GEGLU gate j >= n/2 moves to halfPadded + j - n/2). */
        int column(int j) {
            return geglu && j >= n / 2 ? halfPadded() + j - n / 2 : j;
        }

        /**
         * Writes the transposed weight one destination row (one k) at a time: the row's n elements, gathered from the
         * weight's rows, lie in n cache lines that the next rows read again, and the row goes out as one copy. Before,
         * each weight was widened to a float array on the heap and written an element at a time, column after column,
         * every write a row's stride from the last: SD 1.5's UNet took 12.0-12.4 s to pack on one Zen 5 core, 6.4-6.9 s
         * now (docs/PERFORMANCE.md).
         */
        void pack(Tensor weight, HalfFloatArray dst, long offset) {
            // the weight as F16 bits on the heap, for the gather (an F16 weight copied as it is)
            short[] w = new short[Math.toIntExact(weight.elementCount())];
            HostCopies.toHalves(weight, MemorySegment.ofArray(w), 0);
            MemorySegment d = dst.getSegment();
            int stride = stride();
            short[] row = new short[stride];
            int[] columns = new int[n];
            for (int j = 0; j < n; j++) {
                columns[j] = column(j);
            }
            for (int i = 0; i < k; i++) {
                for (int j = 0; j < n; j++) {
                    row[columns[j]] = w[j * k + i];
                }
                MemorySegment.copy(row, 0, d, SHORT, Short.BYTES * (offset + (long) i * stride), stride);
            }
        }
    }

    /** Geometry of one convolution weight's layout. */
    record ConvLayout(int cout, int kTotal) {
        int kPadded() {
            return roundUp(kTotal, TensorCoreKernels.BLOCK_K);
        }

        int rowsPadded() {
            return roundUp(cout, TensorCoreKernels.BLOCK_M);
        }

        long elements() {
            return (long) rowsPadded() * kPadded();
        }

        /** Rows whose K needs no padding go out as one copy, as F16 (an F16 weight copied as it is). */
        void pack(Tensor weight, HalfFloatArray dst, long offset) {
            MemorySegment d = dst.getSegment();
            int kp = kPadded();
            if (kp == kTotal) {
                HostCopies.toHalves(weight, d, offset);
                return;
            }
            for (int co = 0; co < cout; co++) {
                HostCopies.toHalves(weight, (long) co * kTotal, kTotal, d, offset + (long) co * kp);
            }
        }
    }

    static int roundUp(int n, int multiple) {
        return (n + multiple - 1) / multiple * multiple;
    }
}
