package io.jdiffusion.tornado;

import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.testing.ConformanceCase;
import io.jdiffusion.backend.testing.ConformanceCases;
import io.jdiffusion.backend.testing.TestRandom;
import io.jdiffusion.backend.testing.Tolerances;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Numerics;
import io.jdiffusion.backend.graph.Padding;
import io.jdiffusion.tornado.nvidia.CublasLtProvider;
import io.jdiffusion.tornado.nvidia.CudnnConvProvider;
import io.jdiffusion.tornado.nvidia.LtMatmul;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.exceptions.TornadoExecutionPlanException;
import uk.ac.manchester.tornado.api.types.HalfFloat;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;
import uk.ac.manchester.tornado.api.types.arrays.TornadoNativeArray;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.BiPredicate;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * jdiffusion's cuBLASLt products ({@link CublasLtProvider}, the Linear path of {@link LibraryProducts}) on TornadoVM's
 * CUDA backend with the NVIDIA libraries loaded; skipped elsewhere. Two parts:
 * <ul>
 *   <li>Linear graphs compiled by the backend in F16 and F32 against backend-cpu: odd sizes, bias (cuBLASLt's bias
 *       epilogue), residual (C with beta 1), GELU and GEGLU (product into the scratch array, then the epilogue
 *       kernel), operands in the arena (staged) and in the F32 input and output arrays (the detours of
 *       {@link LinearRoute}). Outputs are poisoned with NaN and every executable runs twice.</li>
 *   <li>Single library tasks on operands at element offsets that are not 16-byte aligned (which a compiled graph's
 *       layout never plans), against a float64 reference, run once plainly and twice as a CUDA graph: the words
 *       around D stay NaN.</li>
 * </ul>
 * Relative L2 error at most 1e-4 in F32 and 3e-3 in F16.
 */
class CublasLtProductTest extends TornadoBesideCpu {
    private static final double F32_TOLERANCE = 1e-4;
    private static final double F16_TOLERANCE = 3e-3;
    private TornadoDevice device;

    @BeforeAll
    void requireLibraries() {
        device = ((TornadoBackend) tornado).device();
        assumeTrue(TornadoDevices.usesLibraries(device), "cuBLASLt runs only on TornadoVM's CUDA backend with the NVIDIA libraries loaded; device: "
                + TornadoDevices.describe(device));
    }

    private static List<ConformanceCase> linearCases() {
        return List.of(
                linear("linear 1x37x45 -> 19 (odd sizes, no bias)", false, Activation.NONE, false, 19, 1, 37, 45),
                linear("linear 2x77x768 -> 768 +bias (text encoder)", true, Activation.NONE, false, 768, 2, 77, 768),
                linear("linear 3x5x33 -> 17 +bias +residual", true, Activation.NONE, true, 17, 3, 5, 33),
                linear("linear 2x64x40 -> geglu 24 +bias +residual", true, Activation.GEGLU, true, 48, 2, 64, 40),
                linear("linear 1x13x24 -> 50 gelu +bias", true, Activation.GELU, false, 50, 1, 13, 24),
                linear("linear 2x256x320 -> geglu 1280 +residual (UNet feed-forward)", true, Activation.GEGLU, true, 2560, 2, 256, 320),
                linear("linear 1x129x320 -> 320 +residual, no bias", false, Activation.NONE, true, 320, 1, 129, 320));
    }

    private static ConformanceCase linear(String name, boolean bias, Activation act, boolean residual, long n, long... xDims) {
        return new ConformanceCase(name, Tolerances.Accuracy.DIRECT,
                b -> new Value[]{ConformanceCases.linear(b, DType.F32, bias, act, residual, n, xDims)});
    }

    @TestFactory
    Stream<DynamicTest> linearGraphsMatchBackendCpu() {
        return graphTests(linearCases(), (precision, staged) -> false);
    }

    /**
     * Every case in F16 and F32, with its operands in the arena (staged) and as graph inputs and outputs; whether a
     * case's convolution must run on cuDNN rather than cuBLASLt is {@code onCudnn}'s answer for the precision and staging.
     */
    private Stream<DynamicTest> graphTests(List<ConformanceCase> cases, BiPredicate<Precision, Boolean> onCudnn) {
        List<DynamicTest> tests = new ArrayList<>();
        for (Precision precision : List.of(Precision.F16, Precision.F32)) {
            for (boolean staged : List.of(true, false)) {
                for (ConformanceCase c : cases) {
                    String name = c.name() + ", " + precision + (staged ? ", operands in the arena" : ", graph inputs and outputs");
                    boolean cudnn = onCudnn.test(precision, staged);
                    tests.add(DynamicTest.dynamicTest(name, () -> checkGraph(c, precision, staged, name, cudnn)));
                }
            }
        }
        return tests.stream();
    }

    private static List<ConformanceCase> pointwiseCases() {
        return List.of(
                pointwise("conv1x1 2x13x5x7 -> 11 +bias +residual (odd sizes, batch 2)", 2, 13, 5, 7, 11, true, true),
                pointwise("conv1x1 1x40x8x8 -> 24, no bias", 1, 40, 8, 8, 24, false, false),
                pointwise("conv1x1 2x64x16x16 -> 32 +bias (shortcut)", 2, 64, 16, 16, 32, true, false),
                pointwise("conv1x1 2x320x16x16 -> 320 +bias +residual (proj_out)", 2, 320, 16, 16, 320, true, true));
    }

    private static ConformanceCase pointwise(String name, long n, long cin, long h, long w, long cout, boolean bias, boolean residual) {
        return new ConformanceCase(name, Tolerances.Accuracy.DIRECT,
                b -> new Value[]{ConformanceCases.conv(b, DType.F32, n, cin, h, w, cout, 1, 1, 1, Padding.same(0), bias, residual)});
    }

    /**
     * 1x1 convolutions ({@link PointwiseConvolution}): one cuBLASLt product and no cuDNN call where every operand is
     * in the product's element type (the arena; in F32 also graph inputs and outputs); cuDNN, staging them, where an
     * F16 executable has them in F32 graph inputs and outputs.
     */
    @TestFactory
    Stream<DynamicTest> pointwiseConvolutionGraphsMatchBackendCpu() {
        return graphTests(pointwiseCases(), (precision, staged) -> precision == Precision.F16 && !staged);
    }

    /**
     * One case as an executable against backend-cpu, run twice (outputs NaN-poisoned); its first run must dispatch
     * cuDNN and no cuBLASLt product where {@code onCudnn}, else cuBLASLt and no cuDNN convolution.
     */
    private void checkGraph(ConformanceCase c, Precision precision, boolean staged, String name, boolean onCudnn) {
        double tolerance = precision == Precision.F16 ? F16_TOLERANCE : F32_TOLERANCE;
        checkTwoRuns(c, precision, tolerance, staged, "cublaslt", () -> {
            long lt = CublasLtProvider.dispatches();
            long cudnn = CudnnConvProvider.dispatches();
            return () -> {
                long ltRan = CublasLtProvider.dispatches() - lt;
                long cudnnRan = CudnnConvProvider.dispatches() - cudnn;
                assertThat(onCudnn ? cudnnRan : ltRan).as("%s: %s dispatched", name, onCudnn ? "cuDNN convolutions" : "cuBLASLt products")
                        .isPositive();
                assertThat(onCudnn ? ltRan : cudnnRan).as("%s: %s dispatched", name, onCudnn ? "cuBLASLt products" : "cuDNN convolutions")
                        .isZero();
            };
        });
    }

    @TestFactory
    Stream<DynamicTest> productsOnUnalignedOffsetsMatchTheReference() {
        List<DynamicTest> tests = new ArrayList<>();
        for (LtMatmul.ElementType type : LtMatmul.ElementType.values()) {
            // offsets of A, B, C, D, bias in elements: none a multiple of 8, so no pointer is 16-byte aligned
            tests.add(DynamicTest.dynamicTest(type + " odd sizes, no C, no bias",
                    () -> direct(type, 37, 19, 45, 3, 5, -1, 1, -1, "odd sizes, no C, no bias")));
            tests.add(DynamicTest.dynamicTest(type + " odd sizes, C and bias",
                    () -> direct(type, 37, 19, 45, 3, 5, 7, 1, 9, "odd sizes, C and bias")));
            tests.add(DynamicTest.dynamicTest(type + " round sizes at odd offsets, C and bias",
                    () -> direct(type, 64, 40, 96, 1, 3, 5, 7, 11, "round sizes at odd offsets, C and bias")));
            tests.add(DynamicTest.dynamicTest(type + " round sizes at offset 0, C and bias",
                    () -> direct(type, 64, 40, 96, 0, 0, 0, 0, 0, "round sizes at offset 0, C and bias")));
        }
        return tests.stream();
    }

    /**
     * D (m x n, column-major) = A^T B [+ C] [+ bias] with A stored k x m and B k x n (a Linear's layout), each operand
     * in an array of its own at the given element offset (C and bias absent where -1); run once plainly and twice as a
     * CUDA graph.
     */
    private void direct(LtMatmul.ElementType type, int m, int n, int k, int aOff, int bOff, int cOff, int dOff, int biasOff, String what) {
        TestRandom random = TestRandom.fresh();
        boolean half = type == LtMatmul.ElementType.F16;
        float[] a = rounded(random, aOff + k * m, half);
        float[] b = rounded(random, bOff + k * n, half);
        float[] c = cOff < 0 ? null : rounded(random, cOff + m * n, half);
        float[] bias = biasOff < 0 ? null : rounded(random, biasOff + m, half);
        double[] expected = new double[m * n];
        for (int j = 0; j < n; j++) {
            for (int i = 0; i < m; i++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    s += (double) a[aOff + i * k + p] * b[bOff + j * k + p];
                }
                if (c != null) {
                    s += c[cOff + j * m + i];
                }
                if (bias != null) {
                    s += bias[biasOff + i];
                }
                expected[j * m + i] = s;
            }
        }
        List<Object> arrays = new ArrayList<>();
        arrays.add(new FloatArray(LibraryProducts.WORKSPACE_BYTES / Float.BYTES));
        arrays.add(array(a, half));
        arrays.add(array(b, half));
        int tail = 5;
        float[] poison = new float[dOff + m * n + tail];
        java.util.Arrays.fill(poison, Float.NaN);
        TornadoNativeArray d = array(poison, half);
        arrays.add(d);
        if (c != null) {
            arrays.add(array(c, half));
        }
        if (bias != null) {
            arrays.add(array(bias, half));
        }
        int biasParameter = arrays.size() - 1;
        LtMatmul product = new LtMatmul(type, m, n, k, true, false, k, k, m, new LtMatmul.Operand(1, aOff), new LtMatmul.Operand(2, bOff),
                c == null ? null : new LtMatmul.Operand(4, cOff), new LtMatmul.Operand(3, dOff),
                bias == null ? null : new LtMatmul.Operand(biasParameter, biasOff), 0);
        runDirect(product, arrays, d, poison, dOff, expected, half, type + " " + what + ": " + product, random);
    }

    /**
     * One library task on {@code arrays} (the workspace first, D among them), run once plainly and twice as a CUDA
     * graph with D reset to {@code poison} before each run: D's {@code expected.length} elements from {@code dOff}
     * match the reference, and the elements around them stay NaN.
     */
    private void runDirect(LtMatmul product, List<Object> arrays, TornadoNativeArray d, float[] poison, int dOff, double[] expected,
                           boolean half, String name, TestRandom random) {
        int size = expected.length;
        for (boolean cudaGraph : List.of(false, true)) {
            TaskGraph g = new TaskGraph(SingleKernelTest.graphName("lt"))
                    .transferToDevice(DataTransferMode.FIRST_EXECUTION, arrays.getFirst())
                    .transferToDevice(DataTransferMode.EVERY_EXECUTION, arrays.subList(1, arrays.size()).toArray())
                    .libraryTask("matmul", CublasLtProvider::matmul, product, arrays.toArray())
                    .transferToHost(DataTransferMode.EVERY_EXECUTION, d);
            try (TornadoExecutionPlan plan = new TornadoExecutionPlan(g.snapshot())) {
                TornadoExecutionPlan p = plan.withDevice(device);
                if (cudaGraph) {
                    p = p.withCUDAGraph();
                }
                for (int run = 1; run <= (cudaGraph ? 2 : 1); run++) {
                    fill(d, poison);
                    p.execute();
                    float[] out = values(d);
                    double err = Numerics.relativeL2(java.util.Arrays.copyOfRange(out, dOff, dOff + size), expected);
                    String as = String.format(Locale.ROOT, "%s, %s run %d (%s)", name, cudaGraph ? "CUDA graph" : "plain", run, random);
                    System.out.printf(Locale.ROOT, "cublaslt direct %s relL2 %.3e%n", as, err);
                    assertThat(err).as(as).isLessThanOrEqualTo(half ? F16_TOLERANCE : F32_TOLERANCE);
                    if (dOff > 0) {
                        assertThat(java.util.Arrays.copyOf(out, dOff)).as("%s: nothing written before D", as).containsOnly(Float.NaN);
                    }
                    assertThat(java.util.Arrays.copyOfRange(out, dOff + size, out.length)).as("%s: nothing written after D", as)
                            .containsOnly(Float.NaN);
                }
            } catch (TornadoExecutionPlanException e) {
                throw new IllegalStateException(name, e);
            }
        }
    }

    @TestFactory
    Stream<DynamicTest> pointwiseConvolutionProductsOnUnalignedOffsetsMatchTheReference() {
        List<DynamicTest> tests = new ArrayList<>();
        for (LtMatmul.ElementType type : LtMatmul.ElementType.values()) {
            // offsets of the weight, x, y and the residual: none a multiple of 8
            tests.add(DynamicTest.dynamicTest(type + " 2 images 5x7 pixels, 13 -> 11 channels, residual",
                    () -> directPointwise(type, 2, 11, 13, 35, 3, 5, 7, 9, true)));
            tests.add(DynamicTest.dynamicTest(type + " 3 images 64 pixels, 40 -> 24 channels, no residual",
                    () -> directPointwise(type, 3, 24, 40, 64, 1, 3, 1, -1, false)));
            tests.add(DynamicTest.dynamicTest(type + " 2 images 256 pixels, 64 -> 32 channels at offset 0, residual",
                    () -> directPointwise(type, 2, 32, 64, 256, 0, 0, 0, 0, true)));
        }
        return tests.stream();
    }

    /**
     * y[b] [cout, pixels] = w [cout, cin] x[b] [cin, pixels] [+ residual[b]], all row-major, as
     * {@link PointwiseConvolution} asks of cuBLASLt: the images a strided batch sharing the weight.
     */
    private void directPointwise(LtMatmul.ElementType type, int images, int cout, int cin, int pixels, int wOff, int xOff, int yOff, int rOff,
                                 boolean residual) {
        TestRandom random = TestRandom.fresh();
        boolean half = type == LtMatmul.ElementType.F16;
        float[] w = rounded(random, wOff + cout * cin, half);
        float[] x = rounded(random, xOff + images * cin * pixels, half);
        float[] r = residual ? rounded(random, rOff + images * cout * pixels, half) : null;
        double[] expected = new double[images * cout * pixels];
        for (int b = 0; b < images; b++) {
            for (int o = 0; o < cout; o++) {
                for (int p = 0; p < pixels; p++) {
                    double s = 0;
                    for (int c = 0; c < cin; c++) {
                        s += (double) w[wOff + o * cin + c] * x[xOff + (b * cin + c) * pixels + p];
                    }
                    int at = (b * cout + o) * pixels + p;
                    expected[at] = s + (residual ? r[rOff + at] : 0);
                }
            }
        }
        List<Object> arrays = new ArrayList<>();
        arrays.add(new FloatArray(LibraryProducts.WORKSPACE_BYTES / Float.BYTES));
        arrays.add(array(w, half));
        arrays.add(array(x, half));
        float[] poison = new float[yOff + expected.length + 5];
        java.util.Arrays.fill(poison, Float.NaN);
        TornadoNativeArray y = array(poison, half);
        arrays.add(y);
        if (residual) {
            arrays.add(array(r, half));
        }
        LtMatmul product = new LtMatmul(type, type, LtMatmul.Order.ROW, cout, pixels, cin, false, false, cin, pixels, pixels,
                new LtMatmul.Batch(images, 0, (long) cin * pixels, (long) cout * pixels), new LtMatmul.Operand(1, wOff),
                new LtMatmul.Operand(2, xOff), residual ? new LtMatmul.Operand(4, rOff) : null, new LtMatmul.Operand(3, yOff), null, 0);
        runDirect(product, arrays, y, poison, yOff, expected, half, type + " pointwise: " + product, random);
    }

    /** Random values, rounded to F16 where the product is in F16 (so the reference sees what the device reads). */
    private static float[] rounded(TestRandom random, int n, boolean half) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            float x = (float) random.nextGaussian();
            v[i] = half ? Float.float16ToFloat(Float.floatToFloat16(x)) : x;
        }
        return v;
    }

    private static TornadoNativeArray array(float[] v, boolean half) {
        if (!half) {
            return FloatArray.fromArray(v);
        }
        HalfFloatArray h = new HalfFloatArray(v.length);
        fill(h, v);
        return h;
    }

    private static void fill(TornadoNativeArray array, float[] v) {
        for (int i = 0; i < v.length; i++) {
            if (array instanceof HalfFloatArray h) {
                h.set(i, new HalfFloat(v[i]));
            } else {
                ((FloatArray) array).set(i, v[i]);
            }
        }
    }

    private static float[] values(TornadoNativeArray array) {
        if (array instanceof HalfFloatArray h) {
            float[] v = new float[h.getSize()];
            for (int i = 0; i < v.length; i++) {
                v[i] = h.get(i).getFloat32();
            }
            return v;
        }
        return ((FloatArray) array).toHeapArray();
    }
}
