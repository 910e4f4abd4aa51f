package io.jdiffusion.core;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TensorTest {
    private final long seed = System.nanoTime();
    private final SplittableRandom random = new SplittableRandom(seed);

    @Test
    void storesAndReadsEveryDtype() {
        for (DType dtype : DType.values()) {
            try (Tensor t = Tensor.allocate(Shape.of(3, 5), dtype)) {
                assertThat(t.byteSize()).isEqualTo(15L * dtype.byteSize());
                assertThat(t.segment().address() % Tensor.ALIGNMENT).isZero();
                for (int i = 0; i < 15; i++) {
                    t.setFloat(i, i - 7);
                }
                for (int i = 0; i < 15; i++) {
                    assertThat(t.getFloat(i)).as("%s[%d]", dtype, i).isEqualTo(i - 7f);
                }
            }
        }
    }

    @Test
    void reshapeAndSliceAreViewsOfTheSameMemory() {
        try (Tensor t = Tensor.ofFloats(Shape.of(4, 3), 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)) {
            Tensor rows = t.slice(1, 3);
            assertThat(rows.shape()).isEqualTo(Shape.of(2, 3));
            assertThat(rows.toFloatArray()).containsExactly(3, 4, 5, 6, 7, 8);
            Tensor flat = t.reshape(12);
            flat.setFloat(4, 42);
            assertThat(rows.getFloat(1)).isEqualTo(42);
            assertThat(rows.ownsMemory()).isFalse();
            assertThatThrownBy(() -> t.reshape(5, 2)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[5, 2]");
            assertThatThrownBy(() -> t.slice(2, 5)).isInstanceOf(IndexOutOfBoundsException.class);
        }
    }

    @Test
    void useAfterCloseFailsLoudlyAlsoThroughViews() {
        Tensor t = Tensor.allocate(Shape.of(8), DType.F32);
        Tensor view = t.slice(2, 4);
        t.close();
        assertThatThrownBy(() -> t.getFloat(0)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(t::toFloatArray).isInstanceOf(IllegalStateException.class).hasMessageContaining("freed");
        assertThatThrownBy(() -> view.getFloat(0)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(view::segment).isInstanceOf(IllegalStateException.class);
        t.close(); // closing twice is harmless
    }

    @Test
    void repeatedAllocateCloseLeaksNothing() {
        long before = Tensor.liveBytes();
        long allocationsBefore = Tensor.liveAllocations();
        for (int i = 0; i < 2000; i++) {
            try (Tensor t = Tensor.allocate(Shape.of(1 + random.nextInt(4096)), DType.F32)) {
                t.setFloat(0, i);
            }
        }
        assertThat(Tensor.liveBytes()).isEqualTo(before);
        assertThat(Tensor.liveAllocations()).isEqualTo(allocationsBefore);
    }

    @Test
    void halfPrecisionConversionsRoundToNearestEven() {
        for (int i = 0; i < 100_000; i++) {
            float v = (float) (random.nextGaussian() * Math.pow(10, random.nextInt(-6, 5)));
            float h = HalfFloats.f16ToFloat(HalfFloats.floatToF16(v));
            float b = HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(v));
            if (Math.abs(v) > 6.2e-5 && Math.abs(v) < 65504) {
                assertThat(Math.abs(h - v)).as("f16 of %s (seed %d)", v, seed).isLessThanOrEqualTo(Math.abs(v) * 0x1p-11f);
            }
            assertThat(Math.abs(b - v)).as("bf16 of %s (seed %d)", v, seed).isLessThanOrEqualTo(Math.abs(v) * 0x1p-8f);
        }
        // Ties go to even: 1 + 2^-8 lies halfway between two bf16 values, the even one is 1.0.
        assertThat(HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(1f + 0x1p-8f))).isEqualTo(1f);
        assertThat(HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(1f + 3 * 0x1p-8f))).isEqualTo(1f + 0x1p-6f);
        assertThat(Float.isNaN(HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(Float.NaN)))).isTrue();
        assertThat(HalfFloats.f16ToFloat(HalfFloats.floatToF16(1e6f))).isInfinite();
    }

    @Test
    void convertsBetweenFloatTypes() {
        float[] values = new float[37];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian();
        }
        try (Tensor f32 = Tensor.ofFloats(Shape.of(37), values);
             Tensor f16 = f32.to(DType.F16);
             Tensor back = f16.to(DType.F32)) {
            assertThat(f16.byteSize()).isEqualTo(74);
            assertThat(Numerics.relativeL2(back.toFloatArray(), values)).isLessThan(1e-3);
        }
    }

    @Test
    void poisonMakesEveryFloatNaN() {
        for (DType dtype : new DType[]{DType.F32, DType.F16, DType.BF16}) {
            try (Tensor t = Tensor.allocate(Shape.of(9), dtype)) {
                t.poison();
                for (int i = 0; i < 9; i++) {
                    assertThat(Float.isNaN(t.getFloat(i))).isTrue();
                }
            }
        }
    }

    @Test
    void relativeErrorRejectsNaN() {
        assertThat(Numerics.relativeL2(new float[]{1, Float.NaN}, new double[]{1, 2})).isInfinite();
        assertThat(Numerics.relativeL2(new float[]{1, 2}, new double[]{1, 2})).isZero();
        assertThat(Numerics.relativeL2(new float[]{3, 4}, new double[]{0, 0})).isInfinite();
    }
}
