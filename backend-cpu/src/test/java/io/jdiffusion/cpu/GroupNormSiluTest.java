package io.jdiffusion.cpu;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static io.jdiffusion.cpu.CpuVectors.FLOAT;
import static io.jdiffusion.cpu.CpuVectors.L;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * GroupNorm's fused SiLU loop element by element against the float64 SiLU, over the whole float range:
 * the conformance suite's relative L2 error would not see a wrong negative tail (values near 0) or a
 * broken exponent clamp at the ends. Runs at every vector width the build tests.
 */
class GroupNormSiluTest {
    private static final int N = 64 * 1024;
    private static final double LOG2E = 1.4426950408889634;

    @Test
    void matchesTheFloat64SiluAcrossTheRangeAndAtTheEnds() {
        float[] special = {Float.NaN, 0f, -0f, 1e-30f, -1e-30f, 88f, -88f, 89f, -89f, 127f, -127f, 200f, -200f,
                3e6f, -3e6f, 1e7f, -1e7f, 1.3e7f, -1.3e7f, 1e30f, -1e30f, Float.MAX_VALUE / 4, -Float.MAX_VALUE / 4};
        for (double[] scaleShift : new double[][] {{1, 0}, {2.5, -1.25}, {0.37, 3.1}}) {
            double scale = scaleShift[0], shift = scaleShift[1];
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment x = arena.allocate(4L * N, 64), out = arena.allocate(4L * N, 64);
                for (int i = 0; i < N; i++) { // v = x * scale + shift from -130 to 130
                    double v = -130 + 260.0 * i / N;
                    x.setAtIndex(FLOAT, i, (float) ((v - shift) / scale));
                }
                for (int i = 0; i < special.length; i++) {
                    x.setAtIndex(FLOAT, i, special[i]);
                }
                out.fill((byte) 0xFF); // NaN until written
                NormKernels.affineSilu(x, out, 0, N - N % L, scale, shift, 0, 0, new double[2]);
                for (int i = 0; i < N - N % L; i++) {
                    float xi = x.getAtIndex(FLOAT, i), y = out.getAtIndex(FLOAT, i);
                    float v = (float) Math.fma(xi, (float) scale, (float) shift);
                    double expected = v / (1 + Math.exp(-(double) v));
                    String at = "x = " + xi + ", scale " + scale + ", shift " + shift;
                    if (Float.isNaN(xi)) {
                        assertThat(y).as(at).isNaN();
                    } else if (v >= -20) {
                        // the kernel takes z = -v log2 e as x za + zb, za and zb rounded to float: 2^z is off by ln 2
                        // times z's rounding, half a unit each of x za, zb and z (1.1e-6 at v = -19 with scale 1);
                        // the polynomial and the division add under 3e-7
                        double za = -scale * LOG2E, zb = -shift * LOG2E;
                        double zError = 0x1p-24 * (Math.abs(xi * za) + Math.abs(zb) + Math.abs(xi * za + zb));
                        double bound = 3e-7 + 1.5 * Math.log(2) * zError;
                        assertThat(Math.abs(y - expected)).as(at).isLessThanOrEqualTo(bound * Math.abs(expected) + 1e-30);
                    } else {
                        // below -20, silu is under 5e-8 in magnitude and negative; the kernel may flush it
                        assertThat((double) y).as(at).isBetween(-Math.max(1e-7, 2 * Math.abs(expected)), 0.0);
                    }
                }
            }
        }
    }
}
