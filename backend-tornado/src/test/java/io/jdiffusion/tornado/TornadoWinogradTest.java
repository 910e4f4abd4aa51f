package io.jdiffusion.tornado;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import io.jdiffusion.backend.Executable;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.WinogradF43;
import io.jdiffusion.backend.graph.Padding;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.backend.testing.ConformanceCase;
import io.jdiffusion.backend.testing.ConformanceCases;
import io.jdiffusion.backend.testing.Problem;
import io.jdiffusion.backend.testing.TestRandom;
import io.jdiffusion.backend.testing.Tolerances;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Numerics;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

import java.util.List;

import static io.jdiffusion.backend.testing.SmallMatrices.multiply;
import static io.jdiffusion.backend.testing.SmallMatrices.transpose;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/**
 * The host side of the Winograd F(4x4,3x3) convolution: the weight transform against a float64 direct
 * convolution, and which convolutions take the Winograd kernels (the conformance suites check their results
 * against backend-cpu, but would pass as well if every convolution fell back to the implicit GEMM).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TornadoWinogradTest {
    private static final double[][] BT = WinogradF43.bt();
    private static final double[][] AT = WinogradF43.at();

    private Backend backend;

    @BeforeAll
    void start() {
        backend = Backends.create(TornadoBackendProvider.NAME);
    }

    @AfterAll
    void stop() {
        backend.close();
    }

    /**
     * A^T [sum_cin U . (B^T d B)] A, with U from {@link WinogradConvolution#transformWeights} (rounded to F32)
     * and the rest in double, equals the direct 3x3 correlation of random 6x6 patches, for F32 and F16 weights.
     */
    @Test
    void transformedWeightsReproduceTheDirectConvolution() {
        TestRandom random = TestRandom.fresh();
        int cout = 5;
        int cin = 7;
        for (DType type : List.of(DType.F32, DType.F16)) {
            try (Tensor drawn = random.normal(Shape.of(cout, cin, 3, 3), 1); Tensor g = drawn.to(type)) {
                FloatArray u = new FloatArray(36 * cout * cin);
                u.init(Float.NaN);
                WinogradConvolution.transformWeights(g, cout, cin, u, 0);
                double[][][] d = new double[cin][6][6];
                for (int ci = 0; ci < cin; ci++) {
                    for (int r = 0; r < 6; r++) {
                        for (int c = 0; c < 6; c++) {
                            d[ci][r][c] = random.nextGaussian();
                        }
                    }
                }
                double[] winograd = new double[cout * 16];
                double[] direct = new double[cout * 16];
                for (int co = 0; co < cout; co++) {
                    double[][] m = new double[6][6];
                    for (int ci = 0; ci < cin; ci++) {
                        double[][] v = multiply(multiply(BT, d[ci]), transpose(BT));
                        for (int i = 0; i < 6; i++) {
                            for (int j = 0; j < 6; j++) {
                                m[i][j] += u.get((i * 6 + j) * cout * cin + co * cin + ci) * v[i][j];
                            }
                        }
                    }
                    double[][] y = multiply(multiply(AT, m), transpose(AT));
                    for (int a = 0; a < 4; a++) {
                        for (int b = 0; b < 4; b++) {
                            winograd[co * 16 + a * 4 + b] = y[a][b];
                            double sum = 0;
                            for (int ci = 0; ci < cin; ci++) {
                                for (int ky = 0; ky < 3; ky++) {
                                    for (int kx = 0; kx < 3; kx++) {
                                        sum += d[ci][a + ky][b + kx] * g.getFloat(((co * cin + ci) * 3 + ky) * 3 + kx);
                                    }
                                }
                            }
                            direct[co * 16 + a * 4 + b] = sum;
                        }
                    }
                }
                float[] actual = new float[winograd.length];
                for (int i = 0; i < actual.length; i++) {
                    actual[i] = (float) winograd[i];
                }
                // U is rounded to F32 once, and A^T, B^T amplify that by up to about 100: 1e-5 leaves a margin.
                assertThat(Numerics.relativeL2(actual, direct)).as("%s weights; %s", type, random).isLessThanOrEqualTo(1e-5);
            }
        }
    }

    /** Every 3x3 stride-1 case of the F32 conformance suite runs as Winograd: three launches instead of one. */
    @Test
    void threeByThreeStrideOneConvolutionsRunAsWinograd() {
        List<ConformanceCase> transformed = new TornadoConformanceTest().cases().stream()
                .filter(c -> c.accuracy() == Tolerances.Accuracy.TRANSFORMED && c.name().startsWith("conv3x3 s1")).toList();
        assertThat(transformed).hasSizeGreaterThanOrEqualTo(9);
        for (ConformanceCase c : transformed) {
            assertThat(tasks(c, Precision.F32)).as(c.name()).isEqualTo(WinogradConvolution.LAUNCHES);
        }
    }

    @Test
    void otherConvolutionsAndTheSwitchedOffPropertyKeepTheImplicitGemm() {
        ConformanceCase s1 = conv(1, new Padding(1, 1, 1, 1));
        assertThat(tasks(conv(2, new Padding(1, 1, 1, 1)), Precision.F32)).as("stride 2").isEqualTo(1);
        try (TemporaryProperties ignored = TemporaryProperties.set(TornadoSettings.WINOGRAD, "false")) {
            assertThat(tasks(s1, Precision.F32)).as("-D%s=false", TornadoSettings.WINOGRAD).isEqualTo(1);
        }
        assertThat(tasks(s1, Precision.F32)).as("property back").isEqualTo(WinogradConvolution.LAUNCHES);
    }

    private static ConformanceCase conv(int stride, Padding pad) {
        return new ConformanceCase("conv3x3 s" + stride, Tolerances.Accuracy.DIRECT,
                b -> new Value[]{ConformanceCases.conv(b, DType.F32, 2, 8, 9, 11, 6, 3, 3, stride, pad, true, true)});
    }

    /**
     * Kernel launches of a compiled one-operator case's operator (compiling builds task graphs; nothing runs). Only where
     * convolutions run on the Java kernels: on TornadoVM's CUDA backend cuBLAS takes them (im2col, GEMM and
     * epilogue: also three launches, so a count there would prove nothing).
     */
    private int tasks(ConformanceCase c, Precision precision) {
        assumeFalse(TornadoDevices.usesLibraries(((TornadoBackend) backend).device()),
                "convolutions run on cuBLAS on this device's TornadoVM backend, not on the Java kernels");
        try (Problem p = c.build(TestRandom.fresh()); Executable exe = backend.compile(p.graph(), precision)) {
            TornadoExecutable e = (TornadoExecutable) exe;
            return e.taskCount() - e.poisonTasks();
        }
    }
}
