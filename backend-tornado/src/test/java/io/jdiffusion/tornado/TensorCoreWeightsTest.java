package io.jdiffusion.tornado;

import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The padded F16 layouts the tensor-core kernels read: every weight element lands where the kernel looks for
 * it, rounded to F16, and every padding element is 0 (the kernels load whole tiles without bounds checks, so a
 * non-zero pad would leak into the product). Host-only: runs wherever the tornado module builds.
 */
class TensorCoreWeightsTest {
    private static final int OFFSET = 48;

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F16", "BF16"})
    void linearWeightIsTransposedIntoWholeTilesOf128Columns(DType stored) {
        var layout = new TensorCoreWeights.LinearLayout(29, 37, false);
        assertThat(layout.kPadded()).isEqualTo(64);
        assertThat(layout.stride()).isEqualTo(128);
        float[] w = random(29 * 37, stored);
        short[] packed;
        try (Tensor t = tensor(w, stored, 29, 37)) {
            packed = pack(layout.elements(), dst -> layout.pack(t, dst, OFFSET));
        }
        for (int i = 0; i < layout.kPadded(); i++) {
            for (int c = 0; c < layout.stride(); c++) {
                short expected = i < 37 && c < 29 ? Float.floatToFloat16(w[c * 37 + i]) : 0;
                assertThat(packed[OFFSET + i * 128 + c]).as("k %d column %d", i, c).isEqualTo(expected);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F16", "BF16"})
    void gegluWeightPutsEachGateColumnHalfPaddedToTheRightOfItsValueColumn(DType stored) {
        // 2 x 70 output features: values 0..69, gates 70..139; halves padded to 128 columns.
        var layout = new TensorCoreWeights.LinearLayout(140, 16, true);
        assertThat(layout.halfPadded()).isEqualTo(128);
        assertThat(layout.stride()).isEqualTo(256);
        assertThat(layout.column(5)).isEqualTo(5);
        assertThat(layout.column(70 + 5)).isEqualTo(128 + 5);
        float[] w = random(140 * 16, stored);
        short[] packed;
        try (Tensor t = tensor(w, stored, 140, 16)) {
            packed = pack(layout.elements(), dst -> layout.pack(t, dst, OFFSET));
        }
        for (int i = 0; i < 16; i++) {
            for (int c = 0; c < 256; c++) {
                int feature = c < 128 ? c : 70 + c - 128;
                boolean real = c < 128 ? c < 70 : c - 128 < 70;
                short expected = real ? Float.floatToFloat16(w[feature * 16 + i]) : 0;
                assertThat(packed[OFFSET + i * 256 + c]).as("k %d column %d", i, c).isEqualTo(expected);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F16", "BF16"})
    void convWeightKeepsItsRowsPaddedTo128RowsAnd32Columns(DType stored) {
        // cout 5, cin 4, 3x3: rows of 36 padded to 64, 5 rows padded to 128.
        var layout = new TensorCoreWeights.ConvLayout(5, 36);
        assertThat(layout.kPadded()).isEqualTo(64);
        assertThat(layout.rowsPadded()).isEqualTo(128);
        float[] w = random(5 * 36, stored);
        short[] packed;
        try (Tensor t = tensor(w, stored, 5, 4, 3, 3)) {
            packed = pack(layout.elements(), dst -> layout.pack(t, dst, OFFSET));
        }
        for (int co = 0; co < 128; co++) {
            for (int i = 0; i < 64; i++) {
                short expected = co < 5 && i < 36 ? Float.floatToFloat16(w[co * 36 + i]) : 0;
                assertThat(packed[OFFSET + co * 64 + i]).as("row %d column %d", co, i).isEqualTo(expected);
            }
        }
    }

    /** Packs into a zeroed array of {@code elements} + 2 {@link #OFFSET} and returns its bits. */
    private static short[] pack(long elements, java.util.function.Consumer<HalfFloatArray> packer) {
        HalfFloatArray dst = new HalfFloatArray(Math.toIntExact(elements + 2 * OFFSET));
        dst.getSegment().fill((byte) 0);
        packer.accept(dst);
        short[] bits = dst.toShortArray();
        for (int i = 0; i < OFFSET; i++) {
            assertThat(bits[i]).as("before the layout").isZero();
            assertThat(bits[bits.length - 1 - i]).as("after the layout").isZero();
        }
        return bits;
    }

    /** Random weights as a tensor stored in {@code stored} holds them (its rounding applied), so F16 is exact. */
    private static float[] random(int n, DType stored) {
        Random r = new Random(n);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        try (Tensor t = Tensor.ofFloats(Shape.of(n), v); Tensor s = t.to(stored)) {
            return s.toFloatArray();
        }
    }

    /** The weight stored as {@code stored}: F16 is packed by copying its bits, the others rounded to F16. */
    private static Tensor tensor(float[] v, DType stored, long... dims) {
        try (Tensor t = Tensor.ofFloats(Shape.of(dims), v)) {
            return t.to(stored);
        }
    }
}
