package io.jdiffusion.tornado;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.backend.testing.ConformanceCase;
import io.jdiffusion.backend.testing.ConformanceCases;
import io.jdiffusion.backend.testing.ProblemBuilder;
import io.jdiffusion.backend.testing.Tolerances;

import java.util.ArrayList;
import java.util.List;

/**
 * Every operator of the SPI on the TornadoVM device chosen by -Djdiffusion.tornado.device (PoCL on a
 * CPU machine, the GPU on a GPU machine), against backend-cpu, in F32: relative L2 error at most 1e-4.
 * Besides the shared cases, heads wider than the flash kernel's local tiles (the VAE's one head of 512)
 * exercise the large-head attention kernel.
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
        return all;
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
