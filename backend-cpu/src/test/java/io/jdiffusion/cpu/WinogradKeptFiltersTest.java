package io.jdiffusion.cpu;

import io.jdiffusion.backend.Executable;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Padding;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.backend.testing.PoisonedOutputs;
import io.jdiffusion.backend.testing.ReferenceOps;
import io.jdiffusion.backend.testing.TestRandom;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Numerics;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Kept Winograd filters are F32, made at compile time by the same operations that a layer without them runs
 * ({@link WinogradFilterStream#transformAll}), in parallel tasks of a few A panels each, from the weights as stored
 * (2-byte weights widen exactly); a layer must therefore give the same bits whether it keeps its filters or
 * transforms them as it runs, with F32, F16 or BF16 weights, and match the float64 reference of those weights. The shapes have output channels that end inside an A panel, input channels that end
 * inside a vector, and enough output channels at 300 input channels for several compile-time tasks.
 */
class WinogradKeptFiltersTest {
    /** (cin, h, w, cout). */
    private static final int[][] SHAPES = {{3, 9, 11, 10}, {17, 8, 8, 7}, {300, 9, 10, 100}, {40, 16, 12, 61}};

    @ParameterizedTest
    @CsvSource({"WINOGRAD_F4, F32", "WINOGRAD_F2, F32", "WINOGRAD_F4, F16", "WINOGRAD_F2, BF16"})
    void keptFiltersGiveTheBitsOfFiltersTransformedAsTheLayerRuns(ConvAlgorithm algorithm, DType weights) {
        TestRandom random = TestRandom.fresh();
        for (int[] s : SHAPES) {
            int cin = s[0], h = s[1], w = s[2], cout = s[3], batch = 2;
            GraphBuilder g = new GraphBuilder("conv");
            Value x = g.input("x", Shape.of(batch, cin, h, w), DType.F32);
            try (Tensor f32 = random.normal(Shape.of(cout, cin, 3, 3), 0.3);
                 Tensor weight = f32.to(weights);
                 Tensor bias = random.normal(Shape.of(cout), 0.1);
                 Tensor input = random.normal(Shape.of(batch, cin, h, w), 1)) {
                g.output(g.conv2d(x, g.constant("w", weight), g.constant("b", bias), null, 1, Padding.same(1)));
                Graph graph = g.build();
                double[] expected = ReferenceOps.run(graph, List.of(input)).getFirst();
                float[] kept = run(algorithm, graph, input, Long.MAX_VALUE);
                float[] streamed = run(algorithm, graph, input, 0);
                String what = algorithm + " " + weights + " weights " + Arrays.toString(s) + " " + random;
                assertThat(Numerics.relativeL2(kept, expected)).as(what).isLessThan(1e-4);
                assertThat(kept).as(what).isEqualTo(streamed);
            }
        }
    }

    /** The layer's output with {@code budget} bytes for kept filters; checks the budget decided whether they were kept. */
    private static float[] run(ConvAlgorithm algorithm, Graph graph, Tensor input, long budget) {
        try (CpuBackend backend = new CpuBackend(2, new KernelOptions(algorithm, WinogradConv.CHUNK_FLOATS, budget, false));
             Executable exe = backend.compile(graph)) {
            assertThat(backend.memoryBreakdown().get("weights_winograd") > 0).as("filters kept with a budget of %d", budget)
                    .isEqualTo(budget > 0);
            return PoisonedOutputs.runFirstOutput(backend, exe, graph, List.of(input));
        }
    }
}
