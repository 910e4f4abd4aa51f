package io.jdiffusion.tornado;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import io.jdiffusion.backend.Executable;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.graph.Padding;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.backend.testing.ConformanceCase;
import io.jdiffusion.backend.testing.ConformanceCases;
import io.jdiffusion.backend.testing.Problem;
import io.jdiffusion.backend.testing.ProblemBuilder;
import io.jdiffusion.backend.testing.TestRandom;
import io.jdiffusion.backend.testing.Tolerances;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every operator of the SPI on the TornadoVM device chosen by -Djdiffusion.tornado.device (PoCL on a
 * CPU machine, the GPU on a GPU machine), against backend-cpu, in F32: relative L2 error at most 1e-4.
 * Besides the shared cases, heads wider than the flash kernel's local tiles (the VAE's one head of 512)
 * exercise the large-head attention kernel, and more 3x3 stride-1 convolutions the Winograd kernels (which
 * every such F32 convolution here runs on; {@code TornadoWinogradTest} checks that they do).
 */
class TornadoConformanceTest extends AgainstCpuSuite {
    static final Tolerances F32_AGAINST_CPU = new Tolerances(1e-4, 1e-4);

    @Override
    protected Backend createBackend() {
        return Backends.create(TornadoBackendProvider.NAME);
    }

    @Override
    protected Tolerances tolerances() {
        return F32_AGAINST_CPU;
    }

    @Override
    protected List<ConformanceCase> cases() {
        List<ConformanceCase> all = new ArrayList<>(ConformanceCases.all());
        all.add(attention("attention VAE-style 1 head of 512, 70 tokens", 1, 70, 70, 1, 512, false));
        all.add(attention("attention 2 heads of 200, causal, 37 tokens", 2, 37, 37, 2, 200, true));
        all.add(attention("attention cross 1 head of 320, 21x50", 2, 21, 50, 1, 320, false));
        // Winograd F(4x4,3x3) beyond the shared 3x3 cases: several GEMM tiles in every direction with a partial
        // last K step, asymmetric padding, and 1x1 images in a batch of 2.
        all.add(conv("conv3x3 s1 2x70x37x35 -> 130 +bias +residual (Winograd GEMM tiles)", 2, 70, 37, 35, 130, new Padding(1, 1, 1, 1), true));
        all.add(conv("conv3x3 s1 pad(0,2,1,0) 1x9x10x7 -> 11", 1, 9, 10, 7, 11, new Padding(0, 2, 1, 0), false));
        all.add(conv("conv3x3 s1 2x3x1x1 -> 5 +residual", 2, 3, 1, 1, 5, Padding.same(1), true));
        all.addAll(splitGroupNorms());
        return all;
    }

    /**
     * GroupNorms whose groups run split into slices ({@code NormKernels.groupNormStats} and {@code groupNormApply}):
     * three slices with a shorter last one, a mean of 40 that a one-pass variance would cancel, a batch of 2 with
     * several groups, a slice count that is not a power of two, and more slices than a work-group's threads. Each channel is shifted by its own offset (drawn
     * with twice the data's spread), so the slices' means differ and the merge of their statistics matters.
     */
    static List<ConformanceCase> splitGroupNorms() {
        return List.of(
                groupNorm("group norm 2 + silu 1x8x96x96 mean 40 (split: 3 slices, the last shorter)", 2, true, 40, 1, 8, 96, 96),
                groupNorm("group norm 4 2x20x120x120 (split: 5 slices, 8 groups)", 4, false, -3, 2, 20, 120, 120),
                // more slices than a work-group has threads: their statistics reach local memory in two rounds
                groupNorm("group norm 1 + silu 1x2x1457x1457 mean 5 (split: 260 slices)", 1, true, 5, 1, 2, 1457, 1457));
    }

    private static ConformanceCase groupNorm(String name, int groups, boolean silu, double mean, long... dims) {
        return new ConformanceCase(name, Tolerances.Accuracy.DIRECT, b -> {
            float[] data;
            try (Tensor drawn = b.random().normal(Shape.of(dims), mean, 1.5)) {
                data = drawn.toFloatArray();
            }
            int channels = (int) dims[1];
            int spatial = data.length / (int) dims[0] / channels;
            float[] shift = new float[channels];
            for (int c = 0; c < channels; c++) {
                shift[c] = (float) (3 * b.random().nextGaussian());
            }
            for (int i = 0; i < data.length; i++) {
                data[i] += shift[i / spatial % channels];
            }
            Value x = b.input("x", Tensor.ofFloats(Shape.of(dims), data));
            long ch = dims[1];
            return new Value[]{b.graph().groupNorm(x, b.constant("gamma", DType.F32, 1, 0.2, ch), b.constant("beta", DType.F32, 0, 0.2, ch),
                    groups, 1e-5f, silu)};
        });
    }

    /**
     * A group of 32768 elements or more runs as two launches (statistics per slice, then the normalisation), a
     * smaller one as one: the suite's results alone would pass either way. (The poisoning's launches are left out:
     * the split's slice statistics are poisoned at every run too.)
     */
    @Test
    void largeGroupsRunSplitIntoSlices() {
        assertThat(tasks(1, 8, 96, 96) - tasks(1, 8, 90, 90)).as("launches added by a split GroupNorm").isEqualTo(1);
    }

    private int tasks(long... dims) {
        ProblemBuilder b = new ProblemBuilder("group norm " + Arrays.toString(dims), TestRandom.fresh());
        Value x = b.input("x", dims);
        Value y = b.graph().groupNorm(x, b.constant("gamma", DType.F32, 1, 0.2, dims[1]), b.constant("beta", DType.F32, 0, 0.2, dims[1]),
                2, 1e-5f, true);
        try (Problem p = b.build(y); Executable exe = backend().compile(p.graph(), Precision.F32)) {
            TornadoExecutable e = (TornadoExecutable) exe;
            return e.taskCount() - e.poisonTasks();
        }
    }

    /** A 3x3 stride-1 convolution with bias: the Winograd path in F32. */
    static ConformanceCase conv(String name, long n, long cin, long h, long w, long cout, Padding pad, boolean residual) {
        return new ConformanceCase(name, Tolerances.Accuracy.TRANSFORMED,
                b -> new Value[]{ConformanceCases.conv(b, DType.F32, n, cin, h, w, cout, 3, 3, 1, pad, true, residual)});
    }

    static ConformanceCase attention(String name, long batch, long nq, long nk, int heads, long d, boolean causal) {
        return new ConformanceCase(name, Tolerances.Accuracy.DIRECT, b -> new Value[]{attention(b, batch, nq, nk, heads, d, causal)});
    }

    private static Value attention(ProblemBuilder b, long batch, long nq, long nk, int heads, long d, boolean causal) {
        Value q = b.input("q", batch, nq, heads * d);
        Value k = b.input("k", batch, nk, heads * d);
        Value v = b.input("v", batch, nk, heads * d);
        return b.graph().attention(q, k, v, heads, (float) (1 / Math.sqrt(d)), causal);
    }
}
