package io.jdiffusion.tornado;

import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.graph.Padding;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.backend.testing.BackendOracle;
import io.jdiffusion.backend.testing.ConformanceCase;
import io.jdiffusion.backend.testing.ConformanceCases;
import io.jdiffusion.backend.testing.Problem;
import io.jdiffusion.backend.testing.ProblemBuilder;
import io.jdiffusion.backend.testing.TestRandom;
import io.jdiffusion.backend.testing.Tolerances;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Numerics;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.tornado.nvidia.BackgroundPlans;
import io.jdiffusion.tornado.nvidia.ConvShape;
import io.jdiffusion.tornado.nvidia.CudnnConvProvider;
import io.jdiffusion.tornado.nvidia.CudnnConvolution;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestFactory;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.exceptions.TornadoExecutionPlanException;
import uk.ac.manchester.tornado.api.types.HalfFloat;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;
import uk.ac.manchester.tornado.api.types.arrays.TornadoNativeArray;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Convolutions on cuDNN ({@link CudnnConvProvider}) against backend-cpu, on TornadoVM's CUDA backend with the NVIDIA
 * libraries (skipped elsewhere, with the reason): relative L2 error at most 3e-3 in F16, 1e-4 in F32, fresh random
 * inputs, outputs NaN-poisoned before each run. Two levels:
 * <ul>
 *   <li>{@link #f16ConvolutionsMatchTheCpu} and {@link #f32ConvolutionsMatchTheCpu}: whole executables (staged, so x, residual and y live in the activation arena,
 *       as inside a network; each case runs twice, the second a CUDA-graph replay): 3x3 and 1x1, stride 2, padding 0
 *       and 1, odd channel counts and sides, batch 2, with and without bias and residual, and a convolution with
 *       asymmetric padding that must take the im2col fallback; every other case must dispatch cuDNN; in F16 also
 *       unstaged, where x and the residual are F32 graph inputs and y an F32 graph output, copied through F16
 *       scratch arrays ({@link #f16ConvolutionsOnF32GraphInputsAndOutputsMatchTheCpu});</li>
 *   <li>{@link #operandsAtUnalignedOffsets}: the library task alone on operands at odd element offsets (2-byte
 *       aligned in F16), which the backend's layout never plans but the provider must still compute right; and each
 *       F16 case again on cuDNN's graph API, with KCRS and KRSC filters and with the residual in place, its operands
 *       on the 16-byte boundaries that graph plans declare.</li>
 * </ul>
 * A cuDNN failure surfaces as the provider's exception: the call, cuDNN's status name, the shape, the algorithm and
 * the operands' alignments.
 */
class CudnnConvolutionTest extends TornadoBesideCpu {
    private static final Tolerances F16_AGAINST_CPU = TornadoF16ConformanceTest.F16_AGAINST_CPU;
    private static final Tolerances F32_AGAINST_CPU = TornadoConformanceTest.F32_AGAINST_CPU;
    private static final AtomicInteger GRAPHS = new AtomicInteger();

    static List<ConformanceCase> cases() {
        List<ConformanceCase> c = new ArrayList<>();
        c.add(conv("3x3 2x32x16x16 -> 32 +bias +residual (batch 2)", 2, 32, 16, 16, 32, 3, 1, Padding.same(1), true, true));
        c.add(conv("3x3 1x4x24x24 -> 320 +bias (conv_in: C of 4)", 1, 4, 24, 24, 320, 3, 1, Padding.same(1), true, false));
        c.add(conv("3x3 s2 2x64x33x31 -> 64 +bias (downsampler, odd sides)", 2, 64, 33, 31, 64, 3, 2, Padding.same(1), true, false));
        c.add(conv("1x1 1x256x20x20 -> 512 +bias +residual (shortcut)", 1, 256, 20, 20, 512, 1, 1, Padding.same(0), true, true));
        c.add(conv("3x3 1x128x40x40 -> 3 (VAE conv_out, no bias)", 1, 128, 40, 40, 3, 3, 1, Padding.same(1), false, false));
        c.add(conv("3x3 2x13x9x11 -> 7 +residual, no bias (odd channels)", 2, 13, 9, 11, 7, 3, 1, Padding.same(1), false, true));
        c.add(conv("1x1 2x5x7x7 -> 3 +bias (odd, tiny)", 2, 5, 7, 7, 3, 1, 1, Padding.same(0), true, false));
        c.add(conv("3x3 s2 pad 0 1x16x10x12 -> 8 +bias +residual", 1, 16, 10, 12, 8, 3, 2, Padding.same(0), true, true));
        c.add(conv("3x3 2x320x16x16 -> 320 +bias +residual (UNet resnet)", 2, 320, 16, 16, 320, 3, 1, Padding.same(1), true, true));
        c.add(conv("3x3 s2 pad (0,1,0,1) 1x8x12x12 -> 8 +bias (asymmetric: im2col fallback)", 1, 8, 12, 12, 8, 3, 2,
                new Padding(0, 1, 0, 1), true, false));
        return c;
    }

    private static ConformanceCase conv(String name, long n, long cin, long h, long w, long cout, long k, int stride, Padding pad,
                                        boolean bias, boolean residual) {
        return new ConformanceCase(name, Tolerances.Accuracy.DIRECT,
                b -> new Value[]{ConformanceCases.conv(b, DType.F32, n, cin, h, w, cout, k, k, stride, pad, bias, residual)});
    }

    /** 1x1 convolutions on cuDNN for the class's cases, put back as it was after them. */
    private TemporaryProperties pointwiseOnCudnn;

    @BeforeAll
    void onlyWhereConvolutionsRunOnCudnn() {
        assumeTrue(TornadoDevices.usesLibraries(((TornadoBackend) tornado).device()),
                "cuDNN convolutions run on TornadoVM's CUDA backend with the NVIDIA libraries loaded; the device is not one");
        // the 1x1 cases are cuDNN's here; CublasLtProductTest checks them on their default route, cuBLASLt
        pointwiseOnCudnn = TemporaryProperties.set(TornadoSettings.CUDNN_POINTWISE, "true");
    }

    @AfterAll
    void pointwiseBackAsItWas() {
        if (pointwiseOnCudnn != null) {
            pointwiseOnCudnn.close();
        }
    }

    /** What cuDNN chose for each shape (algorithm, math, workspace, fusion), for the log of a GPU run. */
    @AfterAll
    void printThePlans() {
        CudnnConvProvider.plansMade().forEach(p -> System.out.println("cudnn plan " + p));
    }

    @TestFactory
    Stream<DynamicTest> f16ConvolutionsMatchTheCpu() {
        return cases().stream().map(c -> DynamicTest.dynamicTest("F16 " + c.name(), () -> check(c, Precision.F16, F16_AGAINST_CPU, true)));
    }

    /**
     * Prepared first, as the pipeline prepares a network: the plans are built on the cuDNN context's own thread while
     * TornadoVM compiles ({@code BackgroundPlans}), all before the first run's capture, and that run uses them.
     */
    @TestFactory
    Stream<DynamicTest> f16ConvolutionsWithPlansBuiltInTheBackgroundMatchTheCpu() {
        return cases().stream().filter(c -> !c.name().contains("im2col fallback")).map(c -> DynamicTest.dynamicTest("F16 prepared " + c.name(),
                () -> checkTwoRuns(c, Precision.F16, F16_AGAINST_CPU.of(c.accuracy()), true, "cudnn prepared",
                        raises(BackgroundPlans::builtInBackground, "F16 " + c.name() + ": plans built in the background"), true)));
    }

    /**
     * Unstaged: x and the residual are F32 graph inputs and y an F32 graph output, which an F16 executable copies
     * through F16 scratch arrays around cuDNN.
     */
    @TestFactory
    Stream<DynamicTest> f16ConvolutionsOnF32GraphInputsAndOutputsMatchTheCpu() {
        return cases().stream().map(c -> DynamicTest.dynamicTest("F16 unstaged " + c.name(),
                () -> check(c, Precision.F16, F16_AGAINST_CPU, false)));
    }

    @TestFactory
    Stream<DynamicTest> f32ConvolutionsMatchTheCpu() {
        return cases().stream().map(c -> DynamicTest.dynamicTest("F32 " + c.name(), () -> check(c, Precision.F32, F32_AGAINST_CPU, true)));
    }

    /**
     * One case as an executable of the backend: {@code staged}, x, residual and y in the activation arena (else F32
     * graph inputs and output), outputs poisoned before each of two runs (the second replays the CUDA graph the first
     * captured), against backend-cpu. Every case but the asymmetric padding (the im2col fallback) must dispatch cuDNN
     * convolutions.
     */
    private void check(ConformanceCase c, Precision precision, Tolerances tolerances, boolean staged) {
        checkTwoRuns(c, precision, tolerances.of(c.accuracy()), staged, "cudnn", c.name().contains("im2col fallback") ? anyRoute()
                : raises(CudnnConvProvider::dispatches, precision + " " + c.name() + ": cuDNN convolutions"));
    }

    /**
     * One direct case: shape, whether bias and residual, the gaps (elements) before x, the residual and y in one
     * activation array (y on the residual itself where {@code inPlace}), the filter's element offset in its array,
     * whether bias and residual may fuse, whether the convolution runs as a graph-API plan, and whether the filter
     * lies KRSC (cuDNN's NHWC filter format, which only the graph API takes) rather than KCRS.
     */
    private record Direct(String name, ConvShape shape, boolean bias, boolean residual, int xOffset, int residualOffset, int yOffset,
                          int filterOffset, boolean fuse, boolean graph, boolean filterNhwc, boolean inPlace) {
        Direct(String name, ConvShape shape, boolean bias, boolean residual, int xOffset, int residualOffset, int yOffset, int filterOffset,
               boolean fuse) {
            this(name, shape, bias, residual, xOffset, residualOffset, yOffset, filterOffset, fuse, false, false, false);
        }

        /** This case as a graph-API plan, its filter KRSC or not. */
        Direct onGraph(boolean krsc) {
            return new Direct(name + ", graph API" + (krsc ? ", filter KRSC" : ""), shape, bias, residual, xOffset, residualOffset, yOffset,
                    filterOffset, false, true, krsc, inPlace);
        }

        /** This case with y written onto its residual, as the UNet's second convolution of a block adds its skip. */
        Direct residualInPlace() {
            return new Direct(name + ", residual in place", shape, bias, true, xOffset, residualOffset, yOffset, filterOffset, fuse, graph,
                    filterNhwc, true);
        }
    }

    private static List<Direct> directCases() {
        List<Direct> d = new ArrayList<>();
        for (boolean half : new boolean[]{true, false}) {
            String p = half ? "F16 " : "F32 ";
            for (boolean fuse : new boolean[]{true, false}) {
                d.add(new Direct(p + "3x3 2x13x9x11 -> 7 +bias +residual, gaps 3/5/7, filter at 1" + (fuse ? ", fusable" : ", unfused"),
                        new ConvShape(2, 13, 9, 11, 7, 3, 3, 1, 1, 1, 1, half), true, true, 3, 5, 7, 1, fuse));
                d.add(new Direct(p + "3x3 1x64x12x12 -> 32 +bias +residual, gaps 0/16/32 (aligned)" + (fuse ? ", fusable" : ", unfused"),
                        new ConvShape(1, 64, 12, 12, 32, 3, 3, 1, 1, 1, 1, half), true, true, 0, 16, 32, 0, fuse));
            }
            d.add(new Direct(p + "3x3 s2 1x32x17x15 -> 24 +bias, gaps 1/-/9, filter at 5", new ConvShape(1, 32, 17, 15, 24, 3, 3, 1, 1, 2, 1,
                    half), true, false, 1, 0, 9, 5, true));
            d.add(new Direct(p + "1x1 2x64x8x8 -> 40 +residual, gaps 8/4/2, filter at 0",
                    new ConvShape(2, 64, 8, 8, 40, 1, 1, 0, 0, 1, 1, half), false, true, 8, 4, 2, 0, true));
            d.add(new Direct(p + "3x3 1x8x6x6 -> 16 no bias no residual, gaps 0/-/1, filter at 3", new ConvShape(1, 8, 6, 6, 16, 3, 3, 1, 1, 1, 1,
                    half), false, false, 0, 0, 1, 3, true));
        }
        // F16 on the graph API: each F16 case with the filter KCRS and KRSC, and the residual in place (beta 1)
        List<Direct> graph = new ArrayList<>();
        for (Direct c : d) {
            if (c.shape().half()) {
                graph.add(c.onGraph(false));
                graph.add(c.onGraph(true));
                if (c.residual()) {
                    graph.add(c.onGraph(false).residualInPlace());
                    graph.add(c.onGraph(true).residualInPlace());
                }
            }
        }
        d.add(d.get(0).residualInPlace());
        d.addAll(graph);
        return d;
    }

    @TestFactory
    Stream<DynamicTest> operandsAtUnalignedOffsets() {
        return directCases().stream().map(d -> DynamicTest.dynamicTest(d.name(), () -> direct(d)));
    }

    private void direct(Direct d) {
        ConvShape s = d.shape();
        TestRandom random = TestRandom.fresh();
        float[] x = rounded(random.normal(Shape.of(s.n(), s.c(), s.h(), s.w()), 1), s.half());
        float[] w = rounded(random.normal(Shape.of(s.k(), s.c(), s.r(), s.s()), 1 / Math.sqrt((double) s.c() * s.r() * s.s())), s.half());
        float[] b = d.bias() ? rounded(random.normal(Shape.of(s.k()), 0.3), s.half()) : null;
        float[] r = d.residual() ? rounded(random.normal(Shape.of(s.n(), s.k(), s.outH(), s.outW()), 1), s.half()) : null;
        // one activation array: x at its offset, then the residual, then y (NaN), each after a gap of the offset
        // a graph plan declares its operands 16-byte aligned (ConvGraphPlan.OPERAND_ALIGNMENT), as the backend's arena
        // places them: its cases keep the gaps but start each operand on that boundary
        int align = d.graph() ? (int) (CudnnConvolution.GRAPH_OPERAND_ALIGNMENT / s.elementBytes()) : 1;
        long xAt = up(d.xOffset(), align);
        long rAt = up(xAt + x.length + d.residualOffset(), align);
        long yAt = d.inPlace() ? rAt : up(rAt + (r == null ? 0 : r.length) + d.yOffset(), align);
        int filterAt = (int) up(d.filterOffset(), align);
        int activations = (int) (Math.max(yAt + s.yElements(), rAt + (r == null ? 0 : r.length)) + 16);
        TornadoNativeArray act = array(s.half(), activations, Float.NaN);
        fill(act, xAt, x);
        if (r != null) {
            fill(act, rAt, r);
        }
        TornadoNativeArray filter = array(s.half(), filterAt + w.length, Float.NaN);
        fill(filter, filterAt, d.filterNhwc() ? krsc(w, s) : w);
        TornadoNativeArray bias = b == null ? null : array(s.half(), b.length, Float.NaN);
        if (b != null) {
            fill(bias, 0, b);
        }
        long workspaceBytes = LibraryProducts.workspaceFor(s);
        FloatArray workspace = new FloatArray((int) ((workspaceBytes + CudnnConvProvider.WORKSPACE_ALIGNMENT) / Float.BYTES));

        CudnnConvolution.Arguments args = new CudnnConvolution.Arguments();
        CudnnConvolution.Operand xo = new CudnnConvolution.Operand(args.of(act, false), xAt);
        CudnnConvolution.Operand ro = r == null ? null : new CudnnConvolution.Operand(args.of(act, false), rAt);
        CudnnConvolution.Operand yo = new CudnnConvolution.Operand(args.of(act, true), yAt);
        CudnnConvolution.Operand wo = new CudnnConvolution.Operand(args.of(filter, false), filterAt);
        CudnnConvolution.Operand bo = bias == null ? null : new CudnnConvolution.Operand(args.of(bias, false), 0);
        int ws = args.of(workspace, true);
        CudnnConvolution tuning = new CudnnConvolution(s, xo, wo, bo, ro, yo, ws, workspaceBytes, d.fuse(), d.graph(), d.filterNhwc());

        TaskGraph g = new TaskGraph("cudnnconv" + GRAPHS.incrementAndGet());
        g.transferToDevice(DataTransferMode.EVERY_EXECUTION, args.arrays().toArray());
        LibraryProducts.libraryTask(g, "conv", tuning.descriptor(args));
        g.transferToHost(DataTransferMode.EVERY_EXECUTION, act);
        try (TornadoExecutionPlan plan = new TornadoExecutionPlan(g.snapshot())) {
            plan.withDevice(((TornadoBackend) tornado).device()).execute();
        } catch (TornadoExecutionPlanException e) {
            throw new IllegalStateException(e);
        }
        float[] y = read(act, yAt, (int) s.yElements());
        double[] expected = cpuConvolution(s, x, w, b, r, random);
        double err = Numerics.relativeL2(y, expected);
        double tolerance = (s.half() ? F16_AGAINST_CPU : F32_AGAINST_CPU).direct();
        System.out.printf(Locale.ROOT, "cudnn direct %-80s relL2 %.3e (tolerance %.0e)%n", d.name(), err, tolerance);
        assertThat(err).as("%s: relative L2 error against backend-cpu; %s", d.name(), random).isLessThanOrEqualTo(tolerance);
    }

    /** {@code offset} rounded up to a multiple of {@code elements}. */
    private static long up(long offset, int elements) {
        return (offset + elements - 1) / elements * elements;
    }

    /** A KCRS filter's elements laid out KRSC. */
    private static float[] krsc(float[] w, ConvShape s) {
        float[] out = new float[w.length];
        int i = 0;
        for (int k = 0; k < s.k(); k++) {
            for (int c = 0; c < s.c(); c++) {
                for (int r = 0; r < s.r(); r++) {
                    for (int q = 0; q < s.s(); q++) {
                        out[((k * s.r() + r) * s.s() + q) * s.c() + c] = w[i++];
                    }
                }
            }
        }
        return out;
    }

    /** The same convolution on backend-cpu, in F32, from the same (already rounded) numbers. */
    private double[] cpuConvolution(ConvShape s, float[] x, float[] w, float[] b, float[] r, TestRandom random) {
        ProblemBuilder pb = new ProblemBuilder("cudnn direct reference", random);
        Value xv = pb.input("x", Tensor.ofFloats(Shape.of(s.n(), s.c(), s.h(), s.w()), x));
        Value wv = pb.constant("w", Tensor.ofFloats(Shape.of(s.k(), s.c(), s.r(), s.s()), w));
        Value bv = b == null ? null : pb.constant("b", Tensor.ofFloats(Shape.of(s.k()), b));
        Value rv = r == null ? null : pb.input("r", Tensor.ofFloats(Shape.of(s.n(), s.k(), s.outH(), s.outW()), r));
        Value out = pb.graph().conv2d(xv, wv, bv, rv, s.stride(), new Padding(s.padH(), s.padH(), s.padW(), s.padW()));
        try (Problem p = pb.build(out)) {
            return new BackendOracle(cpu).evaluate(p.graph(), p.inputs()).getFirst();
        }
    }

    private static float[] rounded(Tensor t, boolean half) {
        float[] v = t.toFloatArray();
        t.close();
        if (half) {
            for (int i = 0; i < v.length; i++) {
                v[i] = Float.float16ToFloat(Float.floatToFloat16(v[i]));
            }
        }
        return v;
    }

    private static TornadoNativeArray array(boolean half, int n, float fill) {
        if (half) {
            HalfFloatArray a = new HalfFloatArray(n);
            a.init(new HalfFloat(fill));
            return a;
        }
        FloatArray a = new FloatArray(n);
        a.init(fill);
        return a;
    }

    private static void fill(TornadoNativeArray a, long at, float[] v) {
        for (int i = 0; i < v.length; i++) {
            if (a instanceof HalfFloatArray h) {
                h.set((int) at + i, new HalfFloat(v[i]));
            } else {
                ((FloatArray) a).set((int) at + i, v[i]);
            }
        }
    }

    private static float[] read(TornadoNativeArray a, long at, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = a instanceof HalfFloatArray h ? h.get((int) at + i).getFloat32() : ((FloatArray) a).get((int) at + i);
        }
        return v;
    }
}
