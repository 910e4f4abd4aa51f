package io.jdiffusion.tornado;

import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import org.junit.jupiter.api.Test;
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

    @Test
    void linearWeightIsTransposedIntoWholeTilesOf128Columns() {
        var layout = new TensorCoreWeights.LinearLayout(29, 37, false);
        assertThat(layout.kPadded()).isEqualTo(64);
        assertThat(layout.stride()).isEqualTo(128);
        float[] w = random(29 * 37);
        short[] packed;
        try (Tensor t = tensor(w, 29, 37)) {
            packed = pack(layout.elements(), dst -> layout.pack(t, dst, OFFSET));
        }
        for (int i = 0; i < layout.kPadded(); i++) {
            for (int c = 0; c < layout.stride(); c++) {
                short expected = i < 37 && c < 29 ? Float.floatToFloat16(w[c * 37 + i]) : 0;
                assertThat(packed[OFFSET + i * 128 + c]).as("k %d column %d", i, c).isEqualTo(expected);
            }
        }
    }

    @Test
    void gegluWeightPutsEachGateColumnHalfPaddedToTheRightOfItsValueColumn() {
        // 2 x 70 output features: values 0..69, gates 70..139; halves padded to 128 columns.
        var layout = new TensorCoreWeights.LinearLayout(140, 16, true);
        assertThat(layout.halfPadded()).isEqualTo(128);
        assertThat(layout.stride()).isEqualTo(256);
        assertThat(layout.column(5)).isEqualTo(5);
        assertThat(layout.column(70 + 5)).isEqualTo(128 + 5);
        float[] w = random(140 * 16);
        short[] packed;
        try (Tensor t = tensor(w, 140, 16)) {
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

    @Test
    void convWeightKeepsItsRowsPaddedTo128RowsAnd32Columns() {
        // cout 5, cin 4, 3x3: rows of 36 padded to 64, 5 rows padded to 128.
        var layout = new TensorCoreWeights.ConvLayout(5, 36);
        assertThat(layout.kPadded()).isEqualTo(64);
        assertThat(layout.rowsPadded()).isEqualTo(128);
        float[] w = random(5 * 36);
        short[] packed;
        try (Tensor t = tensor(w, 5, 4, 3, 3)) {
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

    private static float[] random(int n) {
        Random r = new Random(n);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return v;
    }

    private static Tensor tensor(float[] v, long... dims) {
        return Tensor.ofFloats(Shape.of(dims), v);
    }
}
