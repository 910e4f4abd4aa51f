package io.jdiffusion.tornado;

import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.backend.testing.ConformanceCase;
import io.jdiffusion.backend.testing.ProblemBuilder;
import io.jdiffusion.backend.testing.Tolerances;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.tornado.kernels.TensorCoreAttention;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.stream.Stream;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The tensor-core flash kernel ({@link TensorCoreAttention}) against backend-cpu, F16 on PTX, on scores that change
 * scale across key tiles: keys are scaled per key tile so that the later tiles score far above the first (about 15
 * above the first tile's largest score: weights taken against a shift from the first tile would overflow F16), or
 * far below it (their weights underflow), with and without a causal mask, several heads and a partial last tile. The
 * shared conformance cases cover scores of one scale.
 */
class TensorCoreAttentionTest extends TornadoBesideCpu {
    static Stream<Arguments> cases() {
        return Stream.of(
                Arguments.of("1x100 queries x 300 keys, 2 heads of 40, keys after the first tile scaled by 6", 1, 100, 300, 2, 40,
                        1.0, 6.0, false),
                Arguments.of("2x70 queries x 200 keys, 3 heads of 64, the first tile scaled by 6", 2, 70, 200, 3, 64, 6.0, 1.0, false),
                Arguments.of("1x200 tokens, causal, 2 heads of 80, keys after the first tile scaled by 6", 1, 200, 200, 2, 80, 1.0, 6.0,
                        true),
                Arguments.of("1x130 queries x 1000 keys, 1 head of 160, keys after the first tile scaled by 4", 1, 130, 1000, 1, 160,
                        1.0, 4.0, false),
                // padded to 112, past NARROW_HEAD: V and P go where K^T was and run on past its end
                Arguments.of("1x70 queries x 150 keys, 2 heads of 100, keys after the first tile scaled by 6", 1, 70, 150, 2, 100,
                        1.0, 6.0, false));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesBackendCpu(String name, int batch, int nq, int nk, int heads, int d, double firstTile, double laterTiles,
                           boolean causal) {
        assumeTrue(TornadoDevices.runsJavaTensorCores(((TornadoBackend) tornado).device()),
                "the flash kernel on tensor cores runs on PTX, or on CUDA without the NVIDIA libraries; the device is neither");
        ConformanceCase c = new ConformanceCase(name, Tolerances.Accuracy.DIRECT,
                b -> new Value[]{attention(b, batch, nq, nk, heads, d, firstTile, laterTiles, causal)});
        checkTwoRuns(c, Precision.F16, 3e-3, true, "tensor-core attention", anyRoute());
    }

    private static Value attention(ProblemBuilder b, int batch, int nq, int nk, int heads, int d, double firstTile,
                                   double laterTiles, boolean causal) {
        Value q = b.input("q", batch, nq, heads * d);
        Tensor keys = b.random().normal(Shape.of(batch, nk, heads * d), 1);
        float[] scaled = keys.toFloatArray();
        keys.close();
        int row = heads * d;
        for (int i = 0; i < scaled.length; i++) {
            int key = (i / row) % nk;
            scaled[i] *= (float) (key < TensorCoreAttention.KEYS ? firstTile : laterTiles);
        }
        Value k = b.input("k", Tensor.ofFloats(Shape.of(batch, nk, row), scaled));
        Value v = b.input("v", batch, nk, heads * d);
        return b.graph().attention(q, k, v, heads, (float) (1 / Math.sqrt(d)), causal);
    }
}
