package io.jdiffusion.tornado;

import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import org.junit.jupiter.api.Test;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;

import java.lang.foreign.ValueLayout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Weights and inputs into TornadoVM's arrays: every floating-point storage type, at an element offset. */
class HostCopiesTest {
    private static final float[] VALUES = {0f, -1.5f, 3.140625f, 65504f, 1e-3f, -2.75e-5f, 1.0009765625f};

    @Test
    void everyFloatingPointTypeWidensToFloatsAndRoundsToHalves() {
        checkWidenedAndRounded(VALUES);
    }

    /** Copies of more than one task's elements run in parallel pieces: every piece lands where it belongs. */
    @Test
    void copiesOfSeveralTasksCoverEveryElement() {
        float[] values = new float[(5 << 20) / 2 + 7];
        for (int i = 0; i < values.length; i++) {
            values[i] = (i % 4099) * 0.25f - 500;
        }
        checkWidenedAndRounded(values);
    }

    private static void checkWidenedAndRounded(float[] values) {
        for (DType type : new DType[]{DType.F32, DType.F16, DType.BF16}) {
            try (Tensor src = Tensor.ofFloats(Shape.of(values.length), values).to(type)) {
                FloatArray floats = new FloatArray(values.length + 3);
                HostCopies.toFloats(src, floats, 3);
                HalfFloatArray halves = new HalfFloatArray(values.length + 2);
                HostCopies.toHalves(src, halves.getSegment(), 2);
                for (int i = 0; i < values.length; i++) {
                    if (floats.get(3 + i) != src.getFloat(i)) {
                        assertThat(floats.get(3 + i)).as("%s element %d as float", type, i).isEqualTo(src.getFloat(i));
                    }
                    short bits = halves.getSegment().getAtIndex(ValueLayout.JAVA_SHORT, 2 + i);
                    if (bits != Float.floatToFloat16(src.getFloat(i))) {
                        assertThat(bits).as("%s element %d as F16", type, i).isEqualTo(Float.floatToFloat16(src.getFloat(i)));
                    }
                }
                assertThat(floats.get(2)).as("before the offset").isZero();
            }
        }
    }

    /** A [k, c, r, s] filter of distinct values, each found KRSC where cuDNN's NHWC filter format reads it, as F16. */
    @Test
    void aFilterIsLaidOutKrsc() {
        checkKrsc(3, 5, 3, 2);
        try (Tensor notAFilter = Tensor.ofFloats(Shape.of(2, 3), new float[6])) {
            assertThatThrownBy(() -> HostCopies.krscHalves(notAFilter, new DeviceArrays())).hasMessageContaining("[k, c, r, s]");
        }
    }

    /** A filter of more than one task's output channels (194 channels of 600 x 3 x 3 a task): two pieces in parallel. */
    @Test
    void aFilterOfSeveralTasksIsLaidOutKrsc() {
        checkKrsc(200, 600, 3, 3);
    }

    private static void checkKrsc(int k, int c, int r, int s) {
        float[] values = new float[k * c * r * s];
        for (int i = 0; i < values.length; i++) {
            values[i] = (i % 1023) * 0.5f - 7; // exact in F16, and so is each value BF16 rounds it to
        }
        for (DType type : new DType[]{DType.F32, DType.F16, DType.BF16}) {
            try (Tensor filter = Tensor.ofFloats(Shape.of(k, c, r, s), values).to(type)) {
                HalfFloatArray krsc = HostCopies.krscHalves(filter, new DeviceArrays());
                assertThat(krsc.getSize()).isEqualTo(values.length);
                for (int ko = 0; ko < k; ko++) {
                    for (int ci = 0; ci < c; ci++) {
                        for (int ri = 0; ri < r; ri++) {
                            for (int si = 0; si < s; si++) {
                                float expected = filter.getFloat(((ko * c + ci) * r + ri) * s + si);
                                short bits = krsc.getSegment().getAtIndex(ValueLayout.JAVA_SHORT, ((long) (ko * r + ri) * s + si) * c + ci);
                                if (Float.float16ToFloat(bits) != expected) {
                                    assertThat(Float.float16ToFloat(bits)).as("%s (%d, %d, %d, %d)", type, ko, ci, ri, si).isEqualTo(expected);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void integerTensorsAreRefused() {
        try (Tensor ids = Tensor.ofLongs(Shape.of(2), 1, 2)) {
            assertThatThrownBy(() -> HostCopies.toFloats(ids, new FloatArray(2), 0)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("i64");
            assertThatThrownBy(() -> HostCopies.toHalves(ids, new HalfFloatArray(2).getSegment(), 0))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("i64");
        }
    }
}
