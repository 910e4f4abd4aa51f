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

        void pack(Tensor weight, HalfFloatArray dst, long offset) {
            float[] w = weight.toFloatArray();
            MemorySegment d = dst.getSegment();
            int stride = stride();
            for (int j = 0; j < n; j++) {
                long col = offset + column(j);
                for (int i = 0; i < k; i++) {
                    d.setAtIndex(SHORT, col + (long) i * stride, Float.floatToFloat16(w[j * k + i]));
                }
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

        void pack(Tensor weight, HalfFloatArray dst, long offset) {
            float[] w = weight.toFloatArray();
            MemorySegment d = dst.getSegment();
            int kp = kPadded();
            for (int co = 0; co < cout; co++) {
                for (int i = 0; i < kTotal; i++) {
                    d.setAtIndex(SHORT, offset + (long) co * kp + i, Float.floatToFloat16(w[co * kTotal + i]));
                }
            }
        }
    }

    static int roundUp(int n, int multiple) {
        return (n + multiple - 1) / multiple * multiple;
    }
}
