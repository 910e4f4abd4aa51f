package io.jdiffusion.tornado;

import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.testing.ReferenceOps;
import io.jdiffusion.backend.testing.TestRandom;
import io.jdiffusion.core.Numerics;
import io.jdiffusion.tornado.kernels.LibraryStaging;
import io.jdiffusion.tornado.kernels.PointwiseKernels;
import org.junit.jupiter.api.Test;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;

import java.util.Arrays;
import java.util.function.BiFunction;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The F32 moves around a cuBLAS call ({@link LibraryStaging}: im2col, the linear and convolution epilogues, the
 * in-place channel bias) as
 * plain kernels on the tests' TornadoVM device, against host references in double. On the H100 the whole
 * library path is checked against backend-cpu by the conformance suites on TornadoVM's CUDA backend; this keeps
 * the kernels around it covered where no NVIDIA library runs (PoCL). Outputs start as NaN, so an element no
 * thread writes fails the comparison.
 */
class LibraryStagingTest extends SingleKernelTest {
    /** The kernels' F16 activations, unused here: every operand is F32 (mask 0). */
    private static final HalfFloatArray NO_HALVES = new HalfFloatArray(16);
    private final TestRandom random = TestRandom.fresh();

    @Test
    void im2colGathersEveryWindowWithZerosOutsideTheImage() {
        // 3x3, stride 1, padding 1: the UNet's convolutions.
        checkIm2col(2, 3, 7, 5, 3, 3, 1, 1, 1);
        // 4x3 kernel, stride 2, padding top 1 and left 0: windows leave the image on one side only.
        checkIm2col(1, 4, 9, 8, 4, 3, 2, 1, 0);
    }

    @Test
    void linearEpilogueAddsBiasActivatesAndAddsTheResidual() {
        checkLinearEpilogue(13, 10, Activation.SILU, true, true);
        checkLinearEpilogue(5, 7, Activation.NONE, false, false);
        checkLinearEpilogue(3, 9, Activation.GELU_TANH, true, false);
    }

    @Test
    void linearEpiloguePairsGegluValueAndGateColumns() {
        checkLinearEpilogue(11, 2 * 7, Activation.GEGLU, true, true);
        checkLinearEpilogue(4, 2 * 5, Activation.GEGLU, false, false);
    }

    @Test
    void convEpilogueMovesTheProductToNchwWithBiasAndResidual() {
        checkConvEpilogue(2, 6, 35, true, true);
        checkConvEpilogue(1, 3, 1, false, false);
    }

    /**
     * Bias and residual added in place after a library call: every element moves by its channel's bias and its
     * residual (random, so an element the kernel skips keeps its old value and fails), over two images, with the
     * bias, the residual or both, at offsets.
     */
    @Test
    void biasResidualAddsEachChannelsBiasAndTheResidualInPlace() {
        checkBiasResidual(true, false);
        checkBiasResidual(false, true);
        checkBiasResidual(true, true);
    }

    private void checkBiasResidual(boolean withBias, boolean withResidual) {
        int batch = 2;
        int channels = 5;
        int pixels = 37;
        int n = batch * channels * pixels;
        int biasOffset = 3;
        int residualOffset = 7;
        float[] y = values(n);
        float[] b = values(biasOffset + channels);
        float[] r = values(residualOffset + n);
        double[] expected = new double[n];
        for (int i = 0; i < n; i++) {
            expected[i] = y[i] + (withBias ? b[biasOffset + (i / pixels) % channels] : 0) + (withResidual ? r[residualOffset + i] : 0);
        }
        FloatArray out = FloatArray.fromArray(y);
        FloatArray bias = FloatArray.fromArray(b);
        FloatArray res = FloatArray.fromArray(r);
        IntArray args = IntArray.fromElements(withBias ? biasOffset : -1, withResidual ? residualOffset : -1, 0, n, channels, pixels);
        TaskGraph g = new TaskGraph(graphName("bias_residual"))
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, out, bias, res, args, NO_HALVES)
                .task("t", LibraryStaging::biasResidual, new KernelContext(), NO_HALVES, 0, args, bias, res, out)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, out);
        execute(g, n, n);
        assertThat(Numerics.relativeL2(out.toHeapArray(), expected)).as("bias %s, residual %s (%s)", withBias, withResidual, random)
                .isLessThanOrEqualTo(1e-7);
    }

    private void checkIm2col(int batch, int cin, int h, int w, int kh, int kw, int stride, int padTop, int padLeft) {
        int outH = (h + 2 * padTop - kh) / stride + 1;
        int outW = (w + 2 * padLeft - kw) / stride + 1;
        int pixels = outH * outW;
        int cols = batch * pixels;
        int k = cin * kh * kw;
        int xOff = 7;
        float[] x = values(xOff + batch * cin * h * w);
        double[] expected = new double[k * cols];
        for (int ci = 0; ci < cin; ci++) {
            for (int ky = 0; ky < kh; ky++) {
                for (int kx = 0; kx < kw; kx++) {
                    int row = (ci * kh + ky) * kw + kx;
                    for (int b = 0; b < batch; b++) {
                        for (int oy = 0; oy < outH; oy++) {
                            for (int ox = 0; ox < outW; ox++) {
                                int iy = oy * stride - padTop + ky;
                                int ix = ox * stride - padLeft + kx;
                                boolean inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
                                expected[row * cols + b * pixels + oy * outW + ox] =
                                        inside ? x[xOff + ((b * cin + ci) * h + iy) * w + ix] : 0;
                            }
                        }
                    }
                }
            }
        }
        int geom = kh | kw << 8 | stride << 16;
        int pads = padTop | padLeft << 16;
        int n = k * cols;
        IntArray args = IntArray.fromElements(xOff, n, cols, cin, h, w, outW, pixels, geom, pads);
        float[] actual = run("im2col", n, FloatArray.fromArray(x), new FloatArray(n), (in, out) -> g -> g
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, args)
                .task("t", LibraryStaging::im2col, new KernelContext(), NO_HALVES, 0, args, in, out));
        for (int i = 0; i < n; i++) {
            assertThat((double) actual[i]).as("im2col element %d of %dx%d (%s)", i, k, cols, random).isEqualTo(expected[i]);
        }
    }

    private void checkLinearEpilogue(int m, int n, Activation act, boolean bias, boolean residual) {
        boolean geglu = act == Activation.GEGLU;
        int width = geglu ? n / 2 : n;
        float[] product = values(m * n);
        float[] b = values(n);
        float[] r = values(m * width);
        double[] expected = new double[m * width];
        for (int row = 0; row < m; row++) {
            for (int c = 0; c < width; c++) {
                double v;
                if (geglu) {
                    double value = product[row * n + c] + (bias ? b[c] : 0);
                    double gate = product[row * n + width + c] + (bias ? b[width + c] : 0);
                    v = value * ReferenceOps.activation(Activation.GELU, gate);
                } else {
                    v = ReferenceOps.activation(act, product[row * n + c] + (bias ? b[c] : 0));
                }
                expected[row * width + c] = v + (residual ? r[row * width + c] : 0);
            }
        }
        int code = JavaKernelPath.activationCode(act);
        int oOff = 3;
        IntArray args = IntArray.fromElements(bias ? 0 : -1, residual ? 0 : -1, oOff, m, n);
        FloatArray biasArray = FloatArray.fromArray(b);
        FloatArray resArray = FloatArray.fromArray(r);
        float[] out = run("linear_epilogue", m * width, FloatArray.fromArray(product), new FloatArray(oOff + m * width),
                (c, o) -> g -> g.transferToDevice(DataTransferMode.EVERY_EXECUTION, biasArray, resArray, args).task("t",
                        LibraryStaging::linearEpilogue, new KernelContext(), NO_HALVES, 0, args, c, biasArray, resArray, o, code));
        // Not 1e-6: the devices' exp and tanh are not correctly rounded (PTX's GELU_TANH measured 1.3e-6).
        assertThat(Numerics.relativeL2(Arrays.copyOfRange(out, oOff, oOff + m * width), expected))
                .as("%s epilogue %dx%d bias %s residual %s (%s)", act, m, n, bias, residual, random).isLessThanOrEqualTo(1e-5);
        assertThat(Arrays.copyOf(out, oOff)).as("nothing written before the output's offset").containsOnly(Float.NaN);
    }

    private void checkConvEpilogue(int batch, int cout, int pixels, boolean bias, boolean residual) {
        int cols = batch * pixels;
        int n = cout * cols;
        float[] product = values(n);
        float[] b = values(cout);
        float[] r = values(n);
        double[] expected = new double[n];
        for (int img = 0; img < batch; img++) {
            for (int co = 0; co < cout; co++) {
                for (int p = 0; p < pixels; p++) {
                    int o = (img * cout + co) * pixels + p;
                    expected[o] = product[co * cols + img * pixels + p] + (bias ? b[co] : 0) + (residual ? r[o] : 0);
                }
            }
        }
        FloatArray biasArray = FloatArray.fromArray(b);
        FloatArray resArray = FloatArray.fromArray(r);
        IntArray args = IntArray.fromElements(bias ? 0 : -1, residual ? 0 : -1, 0, n, cout, pixels);
        float[] out = run("conv_epilogue", n, FloatArray.fromArray(product), new FloatArray(n),
                (c, o) -> g -> g.transferToDevice(DataTransferMode.EVERY_EXECUTION, biasArray, resArray, args).task("t",
                        LibraryStaging::convEpilogue, new KernelContext(), NO_HALVES, 0, args, c, biasArray, resArray, o));
        assertThat(Numerics.relativeL2(out, expected)).as("conv epilogue %dx%dx%d (%s)", batch, cout, pixels, random)
                .isLessThanOrEqualTo(1e-6);
    }

    /**
     * Runs one task "t" (added by {@code task} between uploading {@code in} and downloading {@code out}) over
     * {@code threads} threads on the device, after a task that fills {@code out} with NaN on the device (TornadoVM
     * does not upload an array that kernels only write, so poisoning it on the host would not reach the device);
     * returns {@code out}.
     */
    private float[] run(String name, int threads, FloatArray in, FloatArray out,
                        BiFunction<FloatArray, FloatArray, Function<TaskGraph, TaskGraph>> task) {
        FloatArray nan = new FloatArray(1);
        nan.init(Float.NaN);
        TaskGraph g = new TaskGraph(graphName(name));
        g.transferToDevice(DataTransferMode.EVERY_EXECUTION, in, nan, NO_HALVES);
        g.task("poison", PointwiseKernels::fill, new KernelContext(), nan, 0, out, out.getSize());
        g = task.apply(in, out).apply(g);
        g.transferToHost(DataTransferMode.EVERY_EXECUTION, out);
        execute(g, out.getSize(), threads);
        return out.toHeapArray();
    }

    private float[] values(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) random.nextGaussian();
        }
        return v;
    }
}
