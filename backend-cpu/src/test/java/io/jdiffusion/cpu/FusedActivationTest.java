package io.jdiffusion.cpu;

import io.jdiffusion.backend.graph.Activation;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static io.jdiffusion.cpu.CpuVectors.F;
import static io.jdiffusion.cpu.CpuVectors.L;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The GEMM epilogue's activations give exactly {@link ActivationMath}'s bits (fused and unfused operators
 * agree to the bit), over the whole range including the exp clamps, infinities, NaN and signed zeros.
 */
class FusedActivationTest {
    private static final float[] SPECIAL = {0f, -0f, 1e-30f, -1e-30f, 1f, -1f, 5f, -5f, 9.9f, -9.9f, 15f, -15f, 44f, -44f,
            60f, -60f, 88.7f, -88.7f, 89f, -89f, 95f, -95f, 110f, -110f, 150f, -150f, 1e30f, -1e30f,
            Float.MAX_VALUE, -Float.MAX_VALUE, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN};

    private static float[] inputs(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int n = (SPECIAL.length + 4000 + L - 1) / L * L;
        float[] a = new float[n];
        System.arraycopy(SPECIAL, 0, a, 0, SPECIAL.length);
        for (int i = SPECIAL.length; i < n; i++) {
            double range = i % 3 == 0 ? 3 : i % 3 == 1 ? 20 : 200;
            a[i] = (float) ((random.nextDouble() * 2 - 1) * range);
        }
        return a;
    }

    @Test
    void eachActivationGivesActivationMathsBits() {
        for (Activation act : Activation.values()) {
            if (act == Activation.GEGLU) {
                continue;
            }
            float[] x = inputs(act.ordinal());
            float[] fused = x.clone();
            FusedActivation.apply(act, fused, fused.length);
            for (int i = 0; i < x.length; i += L) {
                float[] expected = ActivationMath.apply(act, FloatVector.fromArray(F, x, i)).toArray();
                for (int j = 0; j < L; j++) {
                    assertThat(Float.floatToIntBits(fused[i + j])).as("%s(%s)", act, x[i + j])
                            .isEqualTo(Float.floatToIntBits(expected[j]));
                }
            }
        }
    }

    @Test
    void gegluGivesActivationMathsBitsWithAndWithoutBias() {
        int stride = Gemm.NR;
        int rows = Gemm.MR;
        float[] h = inputs(11), g = inputs(12);
        float[] bias = inputs(13);
        for (boolean withBias : new boolean[] {false, true}) {
            for (int at = 0; at + rows * L <= h.length; at += rows * L) {
                float[] tile = new float[rows * stride];
                for (int r = 0; r < rows; r++) {
                    System.arraycopy(h, at + r * L, tile, r * stride, L);
                    System.arraycopy(g, at + r * L, tile, r * stride + L, L);
                }
                int hBias = (at / L) % (bias.length - 2 * L), gateBias = hBias + L;
                FusedActivation.geglu(tile, rows, stride, withBias ? bias : null, hBias, gateBias);
                for (int r = 0; r < rows; r++) {
                    FloatVector hv = FloatVector.fromArray(F, h, at + r * L), gv = FloatVector.fromArray(F, g, at + r * L);
                    if (withBias) {
                        hv = hv.add(FloatVector.fromArray(F, bias, hBias));
                        gv = gv.add(FloatVector.fromArray(F, bias, gateBias));
                    }
                    float[] expected = ActivationMath.geglu(hv, gv).toArray();
                    for (int j = 0; j < L; j++) {
                        assertThat(Float.floatToIntBits(tile[r * stride + j])).as("geglu row %d lane %d", r, j)
                                .isEqualTo(Float.floatToIntBits(expected[j]));
                    }
                }
            }
        }
    }

    @Test
    void expOverAnArrayIsWithinTwoUlpsAndGivesTheVectorFormsBits() {
        float[] x = inputs(21);
        int from = 2 * L; // a run that does not start at the array's first element
        float[] e = x.clone();
        VectorMath.exp(e, from, x.length - from);
        for (int i = 0; i < from; i++) {
            assertThat(Float.floatToIntBits(e[i])).as("untouched before from: %d", i).isEqualTo(Float.floatToIntBits(x[i]));
        }
        for (int i = from; i < x.length; i += L) {
            float[] vector = ActivationMath.exp(FloatVector.fromArray(F, x, i)).toArray();
            for (int j = 0; j < L; j++) {
                float v = x[i + j], got = e[i + j];
                assertThat(Float.floatToIntBits(got)).as("exp(%s) against the vector form", v).isEqualTo(Float.floatToIntBits(vector[j]));
                double exact = Math.exp(v);
                if (Float.isNaN(v)) {
                    assertThat(got).as("exp(NaN)").isNaN();
                } else if (exact < Float.MIN_NORMAL) {
                    assertThat(got).as("exp(%s) underflows", v).isBetween(0f, Float.MIN_NORMAL);
                } else if (exact > Float.MAX_VALUE) {
                    assertThat(got).as("exp(%s) overflows", v).isEqualTo(Float.POSITIVE_INFINITY);
                } else {
                    assertThat(Math.abs(got - exact)).as("exp(%s)", v).isLessThanOrEqualTo(2 * Math.ulp((float) exact));
                }
            }
        }
    }
}
