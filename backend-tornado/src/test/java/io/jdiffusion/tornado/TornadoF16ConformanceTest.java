package io.jdiffusion.tornado;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import io.jdiffusion.backend.Executable;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.Padding;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.backend.testing.ConformanceCase;
import io.jdiffusion.backend.testing.ConformanceCases;
import io.jdiffusion.backend.testing.Problem;
import io.jdiffusion.backend.testing.ProblemBuilder;
import io.jdiffusion.backend.testing.TestRandom;
import io.jdiffusion.backend.testing.Tolerances;
import io.jdiffusion.core.DType;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Every operator in F16 on a device with tensor cores (TornadoVM's PTX or CUDA backend), against backend-cpu
 * in F32: relative L2 error at most 3e-3. Linear and Conv2d run on the tensor-core kernels there; the shared
 * cases are joined by Stable Diffusion-sized products that span several 128x128 tiles, partial tiles, GEGLU
 * column pairing, strided and 1x1 convolutions, and attention shapes of the tensor-core flash kernel (partial
 * query and key tiles, heads of 40 to 160, causal). Skipped where the device has no F16 (PoCL).
 */
class TornadoF16ConformanceTest extends AgainstCpuSuite {
    static final Tolerances F16_AGAINST_CPU = new Tolerances(3e-3, 3e-3);
    /**
     * Shared cases left out of this staged suite, with the reason: their inputs are built to probe F32
     * cancellation (unit noise on offsets of 25 and 40, logits in the hundreds, timesteps near 1000), so rounding
     * the input to F16 on its way into the arena costs more than any kernel: 2e-3 to 1.1e-2 on the H100, where
     * every other case stays below 8e-4. They measure F16 itself, not the operator; the F32 suite keeps them, and
     * in the networks timesteps come from F32 graph inputs.
     */
    private static final Set<String> INPUT_CONDITIONED = Set.of("group norm mean 40 (cancellation)", "layer norm 1x1x33 mean 25",
            "softmax 5x1037 large logits", "timestep embedding 32 flip", "timestep embedding 33 (odd) shift 1",
            "timestep embedding 320 flip", "group norm 2 + silu 1x8x96x96 mean 40 (split: 3 slices, the last shorter)");

    @Override
    protected Backend createBackend() {
        Backend tornado = Backends.create(TornadoBackendProvider.NAME);
        boolean half = TornadoDevices.computesHalf(((TornadoBackend) tornado).device());
        if (!half) {
            tornado.close();
        }
        assumeTrue(half, "the TornadoVM device has no F16 tensor cores (OpenCL/PoCL): F16 runs on the PTX and CUDA backends");
        return tornado;
    }

    @Override
    protected Tolerances tolerances() {
        return F16_AGAINST_CPU;
    }

    @Override
    protected Precision precision() {
        return Precision.F16;
    }

    /**
     * Staged: every operator reads and writes the F16 activation arena, as inside a network (a single-operator
     * graph would otherwise take its operands from the F32 input and output arrays only).
     */
    @Override
    protected boolean staged() {
        return true;
    }

    @Override
    protected List<ConformanceCase> cases() {
        List<ConformanceCase> all = new ArrayList<>(ConformanceCases.all());
        all.addAll(TornadoConformanceTest.splitGroupNorms());
        // The split GroupNorm at mean 40 measured 3.8e-3 on an H100 (2026-12-05), the one at mean -3 4.0e-4: the input's
        // rounding to F16, as for the shared cases of INPUT_CONDITIONED.
        all.removeIf(c -> INPUT_CONDITIONED.contains(c.name()));
        // Heads wider than cuDNN's fused attention takes: two products around a softmax, on cuBLASLt on the CUDA backend
        // (WideHeadAttention) and on the tensor-core GEMM on PTX (ScoreAttention) where there is one head; the second,
        // with two heads, takes the Java flash kernel on PTX. The last has two chunks of queries (4096 x 4096 F32
        // scores fill the chunk's 64 MiB), the second several heads and batch entries at their offsets.
        all.add(TornadoConformanceTest.attention("attention VAE-style 1x264, 1 head of 512", 1, 264, 264, 1, 512, false));
        all.add(TornadoConformanceTest.attention("attention cross 2x96 x 136, 2 heads of 320", 2, 96, 136, 2, 320, false));
        all.add(TornadoConformanceTest.attention("attention 1x4104 x 4096, 1 head of 512 (two query chunks)", 1, 4104, 4096, 1, 512, false));
        all.add(linear("linear 2x77x768 -> 768 +bias (text encoder)", false, Activation.NONE, 768, 2, 77, 768));
        all.add(linear("linear 2x300x320 -> 1280 gelu +residual", true, Activation.GELU, 1280, 2, 300, 320));
        all.add(linear("linear 2x256x320 -> geglu 1280 +residual (UNet feed-forward)", true, Activation.GEGLU, 2560, 2, 256, 320));
        all.add(linear("linear 1x129x1280 -> geglu 100 (partial GEGLU tile)", false, Activation.GEGLU, 200, 1, 129, 1280));
        all.add(conv("conv3x3 2x320x16x16 -> 320 +residual (two row tiles, one partial)", 2, 320, 16, 16, 320, 3, 1, 1, true));
        all.add(conv("conv3x3 2x4x24x24 -> 320 (conv_in, K of 36)", 2, 4, 24, 24, 320, 3, 1, 1, false));
        all.add(conv("conv3x3 s2 2x64x33x31 -> 64 (downsampler)", 2, 64, 33, 31, 64, 3, 2, 1, false));
        all.add(conv("conv1x1 1x256x20x20 -> 512 +residual (shortcut)", 1, 256, 20, 20, 512, 1, 1, 0, true));
        all.add(conv("conv3x3 2x40x13x11 -> 48 (odd width and pixel count: pixel pairs across rows and past the end)", 2, 40, 13, 11, 48, 3, 1, 1,
                false));
        all.add(conv("conv3x3 s2 1x24x13x13 -> 32 (7x7 output after stride 2)", 1, 24, 13, 13, 32, 3, 2, 1, false));
        all.add(conv("conv3x3 1x128x40x40 -> 3 (VAE conv_out)", 1, 128, 40, 40, 3, 3, 1, 1, false));
        all.add(TornadoConformanceTest.attention("attention self 2x1024 tokens, 8 heads of 40 (UNet 64x64 level)", 2, 1024, 1024, 8, 40, false));
        all.add(TornadoConformanceTest.attention("attention cross 2x256 x 77, 8 heads of 80", 2, 256, 77, 8, 80, false));
        all.add(TornadoConformanceTest.attention("attention self 1x100, 2 heads of 160 (three column chunks)", 1, 100, 100, 2, 160, false));
        all.add(TornadoConformanceTest.attention("attention causal 2x77, 12 heads of 64 (text encoder)", 2, 77, 77, 12, 64, true));
        return all;
    }

    /**
     * In F16 the activation arena itself is F16: a chain whose one intermediate takes 4 MiB in F32 needs 2 MiB
     * less device memory when compiled in F16 (the suite alone would pass with F32 storage).
     */
    @Test
    void activationsAreStoredInF16() {
        ProblemBuilder b = new ProblemBuilder("f16 activations", TestRandom.fresh());
        Value x = b.input("x", 1, 1 << 20);
        Value hidden = b.graph().unary(x, Activation.SILU);
        try (Problem p = b.build(b.graph().unary(hidden, Activation.GELU))) {
            long f32 = compiledBytes(p, Precision.F32);
            long f16 = compiledBytes(p, Precision.F16);
            assertThat(f32 - f16).as("device bytes saved by F16 activations (F32 %d, F16 %d)", f32, f16)
                    .isGreaterThanOrEqualTo((2L << 20) - 1024);
        }
    }

    private long compiledBytes(Problem p, Precision precision) {
        long before = backend().deviceBytesInUse();
        try (Executable exe = backend().compile(p.graph(), precision)) {
            return backend().deviceBytesInUse() - before;
        }
    }

    /** Linear and Conv2d really take the tensor-core path in F16 (the suite alone would pass an F32 fallback). */
    @Test
    void linearAndConvCompileToTensorCoreKernels() {
        for (ConformanceCase c : List.of(cases().get(cases().size() - 13), cases().get(cases().size() - 9))) {
            try (Problem p = c.build(TestRandom.fresh()); Executable exe = backend().compile(p.graph(), Precision.F16)) {
                assertThat(exe.precision()).as(c.name()).isEqualTo(Precision.F16);
            }
        }
    }

    private static ConformanceCase linear(String name, boolean residual, Activation act, long n, long... xDims) {
        return new ConformanceCase(name, Tolerances.Accuracy.DIRECT,
                b -> new Value[]{ConformanceCases.linear(b, DType.F32, true, act, residual, n, xDims)});
    }

    private static ConformanceCase conv(String name, long n, long cin, long h, long w, long cout, long k, int stride, int pad,
                                        boolean residual) {
        return new ConformanceCase(name, Tolerances.Accuracy.DIRECT,
                b -> new Value[]{ConformanceCases.conv(b, DType.F32, n, cin, h, w, cout, k, k, stride, Padding.same(pad), true, residual)});
    }
}
