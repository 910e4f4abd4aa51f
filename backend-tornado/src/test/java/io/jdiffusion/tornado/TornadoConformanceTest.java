package io.jdiffusion.tornado;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import io.jdiffusion.backend.graph.Padding;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.backend.testing.ConformanceCase;
import io.jdiffusion.backend.testing.ConformanceCases;
import io.jdiffusion.backend.testing.ProblemBuilder;
import io.jdiffusion.backend.testing.Tolerances;
import io.jdiffusion.core.DType;

import java.util.ArrayList;
import java.util.List;

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
        return all;
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
