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
 * Attention with one wide head as two products around a softmax ({@link ScoreAttention}) against backend-cpu, its
 * operands in the activation arena: in F32 on any device (the F32 product kernels), in F16 where the device computes
 * in F16 (on PTX the tensor-core GEMM on zero-padded panels; on the CUDA backend, whose cuBLASLt route takes only key
 * counts and heads that are multiples of 8, the F32 product kernels on F16 operands). The cases cover key and value heads of different widths
 * that are not multiples of a tile, key counts that are not multiples of a step, a batch of two, queries in chunks
 * with a shorter last one, and (F16) products split along K.
 */
class ScoreAttentionTest extends TornadoBesideCpu {
    static Stream<Arguments> cases() {
        List<Arguments> all = new ArrayList<>();
        for (Precision p : new Precision[]{Precision.F32, Precision.F16}) {
            all.add(Arguments.of(p, "VAE-style 1x70 tokens, one head of 512", 1, 70, 70, 512, 512, 0, 0));
            all.add(Arguments.of(p, "2x37 queries x 45 keys, heads of 264 (keys) and 200 (values), 4 chunks", 2, 37, 45, 264, 200,
                    4 * 45 * 10, 0));
            // heads of two sizes: on the CUDA backend cuDNN's fused attention would take one size of 192
            all.add(Arguments.of(p, "1x300 queries x 130 keys, heads of 192 and 200, chunks of 128, 128 and 44, K split in 3", 1, 300,
                    130, 192, 200, 4 * 130 * 128, 3));
        }
        return all.stream();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void matchesBackendCpu(Precision precision, String name, int batch, int nq, int nk, int d, int dv, int scoreBytes, int splitK) {
        boolean f16 = precision == Precision.F16;
        assumeTrue(!f16 || TornadoDevices.computesHalf(((TornadoBackend) tornado).device()),
                "the TornadoVM device computes F16 requests in F32 (OpenCL/PoCL)");
        List<String> settings = new ArrayList<>();
        if (scoreBytes > 0) {
            settings.addAll(List.of(TornadoSettings.ATTENTION_SCORE_BYTES, Integer.toString(scoreBytes)));
        }
        if (splitK > 0) {
            settings.addAll(List.of(TornadoSettings.SPLIT_K, Integer.toString(splitK)));
        }
        ConformanceCase c = new ConformanceCase(name, Tolerances.Accuracy.DIRECT, b -> new Value[]{attention(b, batch, nq, nk, d, dv)});
        long before = ScoreAttention.taken();
        try (TemporaryProperties ignored = TemporaryProperties.set(settings.toArray(String[]::new))) {
            checkTwoRuns(c, precision, f16 ? 3e-3 : 1e-4, true, "score attention", anyRoute());
        }
        assertThat(ScoreAttention.taken() - before).as("attentions compiled onto ScoreAttention").isEqualTo(1);
    }

    private static Value attention(ProblemBuilder b, int batch, int nq, int nk, int d, int dv) {
        Value q = b.input("q", batch, nq, d);
        Value k = b.input("k", batch, nk, d);
        Value v = b.input("v", batch, nk, dv);
        return b.graph().attention(q, k, v, 1, (float) (1 / Math.sqrt(d)), false);
    }
}
