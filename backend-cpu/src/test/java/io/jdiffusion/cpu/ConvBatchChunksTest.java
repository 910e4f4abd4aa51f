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
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Both convolution paths run the whole batch as one GEMM, in chunks that may start and end inside an image:
 * im2col in chunks of B panels, Winograd in chunks of tile rows. Whatever the chunk, each output is the same
 * arithmetic in the same order, so every chunk size must give the same bits, and match the float64 reference.
 */
class ConvBatchChunksTest {
    /**
     * (kernel, stride, padding, cin, h, w, cout): pixels and tiles per image not a multiple of any panel
     * width, a partial last tile row and column, and 1 pixel; the last has rows of 18 F(4x4) tiles, which fill whole
     * panels only every 4 to 16 rows, so {@link WinogradConv#chunkRows} keeps most chunk sizes below as they are.
     */
    private static final int[][] SHAPES = {{3, 1, 1, 3, 5, 7, 10}, {1, 1, 0, 4, 3, 7, 6}, {3, 2, 1, 3, 9, 11, 5},
            {1, 1, 0, 5, 1, 1, 7}, {3, 1, 1, 4, 10, 13, 6}, {3, 1, 1, 3, 6, 70, 5}};

    @Test
    void im2colGivesTheSameBitsForEveryChunkOfPanels() {
        check(ConvAlgorithm.IM2COL);
    }

    @Test
    void winogradGivesTheSameBitsForEveryChunkOfTileRows() {
        check(ConvAlgorithm.WINOGRAD_F4);
    }

    @Test
    void winogradF2GivesTheSameBitsForEveryChunkOfTileRows() {
        check(ConvAlgorithm.WINOGRAD_F2);
    }

    private static void check(ConvAlgorithm algorithm) {
        TestRandom random = TestRandom.fresh();
        for (int[] s : SHAPES) {
            int kh = s[0], stride = s[1], pad = s[2], cin = s[3], h = s[4], w = s[5], cout = s[6];
            WinogradTile tile = WinogradSelection.choose(algorithm, new ConvKernels.Geometry(1, cin, h, w, cout, kh, kh, stride,
                    Padding.same(pad), 0, 0));
            if (algorithm != ConvAlgorithm.IM2COL && tile == null) {
                continue;
            }
            int batch = 3;
            List<Tensor> tensors = new ArrayList<>();
            GraphBuilder g = new GraphBuilder("conv");
            Value x = g.input("x", Shape.of(batch, cin, h, w), DType.F32);
            int ho = (h + 2 * pad - kh) / stride + 1, wo = (w + 2 * pad - kh) / stride + 1;
            Value residual = g.input("r", Shape.of(batch, cout, ho, wo), DType.F32);
            Tensor weight = keep(tensors, random.normal(Shape.of(cout, cin, kh, kh), 0.3));
            Tensor bias = keep(tensors, random.normal(Shape.of(cout), 0.1));
            g.output(g.conv2d(x, g.constant("w", weight), g.constant("b", bias), residual, stride, Padding.same(pad)));
            Graph graph = g.build();
            List<Tensor> inputs = List.of(keep(tensors, random.normal(Shape.of(batch, cin, h, w), 1)),
                    keep(tensors, random.normal(Shape.of(batch, cout, ho, wo), 1)));
            double[] expected = ReferenceOps.run(graph, inputs).getFirst();
            // floats per chunk unit: an im2col B panel, or a Winograd tile row (WinogradConv sizes chunks so)
            long unit = tile == null ? (long) cin * kh * kh * Gemm.NR
                    : (long) tile.positions * Math.max(cin, cout) * ((wo + tile.out - 1) / tile.out);
            float[] whole = run(algorithm, graph, inputs, 1 << 30);
            assertThat(Numerics.relativeL2(whole, expected)).as("%s %s %s", algorithm, Arrays.toString(s), random)
                    .isLessThan(algorithm == ConvAlgorithm.IM2COL ? 1e-5 : 1e-4);
            for (int units : new int[] {1, 2, 3, 5}) {
                float[] chunked = run(algorithm, graph, inputs, units * unit);
                assertThat(chunked).as("%s %s, chunks of %d, %s", algorithm, Arrays.toString(s), units, random).isEqualTo(whole);
            }
            tensors.forEach(Tensor::close);
        }
    }

    private static float[] run(ConvAlgorithm algorithm, Graph graph, List<Tensor> inputs, long chunkFloats) {
        try (CpuBackend backend = new CpuBackend(2, algorithm, chunkFloats); Executable exe = backend.compile(graph)) {
            return PoisonedOutputs.runFirstOutput(backend, exe, graph, inputs);
        }
    }

    private static Tensor keep(List<Tensor> list, Tensor t) {
        list.add(t);
        return t;
    }
}
