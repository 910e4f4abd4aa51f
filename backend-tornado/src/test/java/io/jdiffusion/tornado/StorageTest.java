package io.jdiffusion.tornado;

import io.jdiffusion.backend.testing.TestRandom;
import io.jdiffusion.core.Numerics;
import io.jdiffusion.tornado.kernels.Storage;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.types.HalfFloat;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;

import java.util.function.IntToDoubleFunction;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@link Storage}'s loads and stores in the shapes the operator kernels use them (a computed value, a select, a
 * loop's sum, a work-group reduction through local memory), for every combination of F32 and F16 input and
 * output, against host references. TornadoVM's device compilers convert F32 to F16 in some shapes of code and
 * not in others, so each shape is run on the device. F16 combinations run where the device computes in F16
 * (PTX and CUDA backends), F32 ones everywhere. Outputs are NaN-poisoned on the device before the kernel runs.
 */
class StorageTest extends SingleKernelTest {
    private static final int N = THREADS * 37;
    private final TestRandom random = TestRandom.fresh();

    /** Mask: bit 0 input F16, bit 3 output F16 (Storage.X, Storage.OUT). */
    @ParameterizedTest(name = "halves {0}")
    @ValueSource(ints = {0, Storage.X, Storage.OUT, Storage.X | Storage.OUT})
    void computedValuesStoreInEitherPrecision(int halves) {
        check(halves, "affine", N, i -> 1.5 * in(i) + 0.25);
    }

    @ParameterizedTest(name = "halves {0}")
    @ValueSource(ints = {0, Storage.X, Storage.OUT, Storage.X | Storage.OUT})
    void selectedValuesStoreInEitherPrecision(int halves) {
        check(halves, "choose", N, i -> i % 3 == 0 ? 2 * in(i) : 0);
    }

    @ParameterizedTest(name = "halves {0}")
    @ValueSource(ints = {0, Storage.X, Storage.OUT, Storage.X | Storage.OUT})
    void loopSumsStoreInEitherPrecision(int halves) {
        check(halves, "loop", N / 4, i -> in(4 * i) + in(4 * i + 1) + in(4 * i + 2) + in(4 * i + 3));
    }

    @ParameterizedTest(name = "halves {0}")
    @ValueSource(ints = {0, Storage.X, Storage.OUT, Storage.X | Storage.OUT})
    void workGroupReductionsStoreInEitherPrecision(int halves) {
        check(halves, "reduce", N, i -> {
            double mean = 0;
            int row = i / THREADS * THREADS;
            for (int j = 0; j < THREADS; j++) {
                mean += in(row + j);
            }
            return in(i) - mean / THREADS;
        });
    }

    private float[] input;

    /** Input element i as the kernel reads it (after rounding to F16 when the input is F16). */
    private double in(int i) {
        return input[i];
    }

    private void check(int halves, String kernel, int outputs, IntToDoubleFunction expected) {
        boolean inHalf = Storage.half(halves, Storage.X);
        boolean outHalf = Storage.half(halves, Storage.OUT);
        assumeTrue(!(inHalf || outHalf) || TornadoDevices.computesHalf(device()), "no F16 on this TornadoVM device");
        float[] x = new float[N];
        for (int i = 0; i < N; i++) {
            x[i] = (float) random.nextGaussian();
            if (inHalf) {
                x[i] = Float.float16ToFloat(Float.floatToFloat16(x[i]));
            }
        }
        input = x;
        FloatArray xf = FloatArray.fromArray(x);
        HalfFloatArray xh = new HalfFloatArray(N);
        for (int i = 0; i < N; i++) {
            xh.set(i, new HalfFloat(x[i]));
        }
        FloatArray of = new FloatArray(outputs);
        HalfFloatArray oh = new HalfFloatArray(outputs);
        FloatArray nan = new FloatArray(1);
        nan.init(Float.NaN);
        KernelContext ctx = new KernelContext();
        TaskGraph g = new TaskGraph(graphName("storage"));
        g.transferToDevice(DataTransferMode.EVERY_EXECUTION, xf, xh, nan);
        g.task("poison", StorageTest::poison, ctx, nan, of, oh, halves, outputs);
        switch (kernel) {
            case "affine" -> g.task("t", StorageTest::affine, ctx, xf, xh, of, oh, halves, outputs);
            case "choose" -> g.task("t", StorageTest::choose, ctx, xf, xh, of, oh, halves, outputs);
            case "loop" -> g.task("t", StorageTest::loop, ctx, xf, xh, of, oh, halves, outputs);
            case "reduce" -> g.task("t", StorageTest::reduce, ctx, xf, xh, of, oh, halves, outputs);
            default -> throw new IllegalArgumentException(kernel);
        }
        g.transferToHost(DataTransferMode.EVERY_EXECUTION, of, oh);
        execute(g, outputs, outputs);
        float[] actual = new float[outputs];
        double[] want = new double[outputs];
        for (int i = 0; i < outputs; i++) {
            actual[i] = outHalf ? oh.get(i).getFloat32() : of.get(i);
            want[i] = expected.applyAsDouble(i);
        }
        // F16 outputs are off by their rounding, about 2^-12 relative per element.
        double tolerance = outHalf ? 1e-3 : 1e-6;
        assertThat(Numerics.relativeL2(actual, want)).as("%s, halves %d (%s)", kernel, halves, random).isLessThanOrEqualTo(tolerance);
    }

    // ---- the kernels: the shapes of code the operator kernels store in ------------------------------------

    public static void poison(KernelContext ctx, FloatArray nan, FloatArray of, HalfFloatArray oh, int halves, int n) {
        int i = ctx.globalIdx;
        if (i < n) {
            Storage.store(of, oh, i, nan.get(0), Storage.half(halves, Storage.OUT));
        }
    }

    public static void affine(KernelContext ctx, FloatArray xf, HalfFloatArray xh, FloatArray of, HalfFloatArray oh, int halves, int n) {
        int i = ctx.globalIdx;
        if (i < n) {
            float v = Storage.load(xf, xh, i, Storage.half(halves, Storage.X));
            Storage.store(of, oh, i, 1.5f * v + 0.25f, Storage.half(halves, Storage.OUT));
        }
    }

    public static void choose(KernelContext ctx, FloatArray xf, HalfFloatArray xh, FloatArray of, HalfFloatArray oh, int halves, int n) {
        int i = ctx.globalIdx;
        if (i < n) {
            float v = Storage.load(xf, xh, i, Storage.half(halves, Storage.X));
            boolean keep = i % 3 == 0;
            Storage.store(of, oh, i, keep ? 2.0f * v : 0.0f, Storage.half(halves, Storage.OUT));
        }
    }

    public static void loop(KernelContext ctx, FloatArray xf, HalfFloatArray xh, FloatArray of, HalfFloatArray oh, int halves, int n) {
        int i = ctx.globalIdx;
        if (i < n) {
            float sum = 0.0f;
            for (int j = 0; j < 4; j++) {
                sum += Storage.load(xf, xh, 4 * i + j, Storage.half(halves, Storage.X));
            }
            Storage.store(of, oh, i, sum, Storage.half(halves, Storage.OUT));
        }
    }

    /** Each element minus its work-group's mean, the mean reduced in local memory. */
    public static void reduce(KernelContext ctx, FloatArray xf, HalfFloatArray xh, FloatArray of, HalfFloatArray oh, int halves, int n) {
        float[] partial = ctx.allocateFloatLocalArray(THREADS);
        int i = ctx.globalIdx;
        int lid = ctx.localIdx;
        float v = Storage.load(xf, xh, i, Storage.half(halves, Storage.X));
        partial[lid] = v;
        ctx.localBarrier();
        for (int s = THREADS / 2; s > 0; s /= 2) {
            if (lid < s) {
                partial[lid] += partial[lid + s];
            }
            ctx.localBarrier();
        }
        float mean = partial[0] / THREADS;
        if (i < n) {
            Storage.store(of, oh, i, v - mean, Storage.half(halves, Storage.OUT));
        }
    }
}
