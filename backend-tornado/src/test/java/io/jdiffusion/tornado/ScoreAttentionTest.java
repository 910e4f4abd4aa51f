package io.jdiffusion.tornado;

import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.backend.testing.ConformanceCase;
import io.jdiffusion.backend.testing.ProblemBuilder;
import io.jdiffusion.backend.testing.Tolerances;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Attention as two products around a softmax ({@link ScoreAttention}) against backend-cpu, its operands in the
 * activation arena. One wide head in F32 on any device (the F32 product kernels), and in F16 where the device computes
 * in F16 (on PTX the tensor-core GEMM on zero-padded panels; on the CUDA backend, whose cuBLASLt route takes only key
 * counts and heads that are multiples of 8, the F32 product kernels on F16 operands). Several narrow heads over many
 * keys in F16 on tensor cores (PTX), each head an image of the batched products, as the UNet's first level. The cases
 * cover key and value heads of different widths that are not multiples of a tile, key counts that are not multiples
 * of a step, a batch of two, queries in chunks with a shorter last one, and (F16) products split along K.
 */
class ScoreAttentionTest extends TornadoBesideCpu {
    static Stream<Arguments> cases() {
        List<Arguments> all = new ArrayList<>();
        for (Precision p : new Precision[]{Precision.F32, Precision.F16}) {
            all.add(Arguments.of(p, "VAE-style 1x70 tokens, one head of 512", 1, 70, 70, 1, 512, 512, 0, 0));
            all.add(Arguments.of(p, "2x37 queries x 45 keys, heads of 264 (keys) and 200 (values), 4 chunks", 2, 37, 45, 1, 264, 200,
                    4 * 45 * 10, 0));
            // heads of two sizes: on the CUDA backend cuDNN's fused attention would take one size of 192
            all.add(Arguments.of(p, "1x300 queries x 130 keys, heads of 192 and 200, chunks of 128, 128 and 44, K split in 3", 1, 300,
                    130, 1, 192, 200, 4 * 130 * 128, 3));
        }
        all.add(Arguments.of(Precision.F16, "2x150 queries x 140 keys, 3 heads of 80 (keys) and 40 (values), chunks of 64, 64 and 22",
                2, 150, 140, 3, 80, 40, 4 * 3 * 140 * 64, 0));
        all.add(Arguments.of(Precision.F16, "1x100 queries x 90 keys, 2 heads of 88 (keys) and 48 (values), K split in 3", 1, 100, 90, 2,
                88, 48, 0, 3));
        all.add(Arguments.of(Precision.F16, "2x70 queries x 70 keys, 2 heads of 160", 2, 70, 70, 2, 160, 160, 0, 0));
        return all.stream();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void matchesBackendCpu(Precision precision, String name, int batch, int nq, int nk, int heads, int d, int dv, int scoreBytes,
                           int splitK) {
        boolean f16 = precision == Precision.F16;
        assumeTrue(!f16 || TornadoDevices.computesHalf(((TornadoBackend) tornado).device()),
                "the TornadoVM device computes F16 requests in F32 (OpenCL/PoCL)");
        assumeTrue(heads == 1 || TornadoDevices.runsJavaTensorCores(((TornadoBackend) tornado).device()),
                "several heads run as batched products on the Java tensor-core GEMM (PTX, or CUDA without the NVIDIA libraries); the device has none");
        List<String> settings = new ArrayList<>();
        if (scoreBytes > 0) {
            settings.addAll(List.of(TornadoSettings.ATTENTION_SCORE_BYTES, Integer.toString(scoreBytes)));
        }
        if (splitK > 0) {
            settings.addAll(List.of(TornadoSettings.SPLIT_K, Integer.toString(splitK)));
        }
        if (heads > 1) {
            settings.addAll(List.of(TornadoSettings.SCORE_ATTENTION_KEYS, Integer.toString(nk)));
        }
        ConformanceCase c = new ConformanceCase(name, Tolerances.Accuracy.DIRECT,
                b -> new Value[]{attention(b, batch, nq, nk, heads, d, dv)});
        long before = ScoreAttention.taken();
        try (TemporaryProperties ignored = TemporaryProperties.set(settings.toArray(String[]::new))) {
            checkTwoRuns(c, precision, f16 ? 3e-3 : 1e-4, true, "score attention", anyRoute());
        }
        assertThat(ScoreAttention.taken() - before).as("attentions compiled onto ScoreAttention").isEqualTo(1);
    }

    private static Value attention(ProblemBuilder b, int batch, int nq, int nk, int heads, int d, int dv) {
        Value q = b.input("q", batch, nq, heads * d);
        Value k = b.input("k", batch, nk, heads * d);
        Value v = b.input("v", batch, nk, heads * dv);
        return b.graph().attention(q, k, v, heads, (float) (1 / Math.sqrt(d)), false);
    }
}
