package io.jdiffusion.cpu;

import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Padding;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class WinogradSelectionTest {
    /**
     * 3x3 stride-1 layers at 32x32 (64 F(4x4) tiles), 64x64 (256), 8x8 (4 F(4x4) tiles, 16 F(2x2) tiles), 4x4
     * (4 F(2x2) tiles), a 16x16 one of 3 input channels, and a stride-2 one.
     */
    private static Graph graph() {
        GraphBuilder g = new GraphBuilder("convs");
        Value big = g.input("big", Shape.of(1, 16, 64, 64), DType.F32);
        Value mid = g.input("mid", Shape.of(1, 32, 32, 32), DType.F32);
        Value small = g.input("small", Shape.of(1, 32, 8, 8), DType.F32);
        Value tiny = g.input("tiny", Shape.of(1, 32, 4, 4), DType.F32);
        Value rgb = g.input("rgb", Shape.of(1, 3, 16, 16), DType.F32);
        g.output(g.conv2d(mid, weight(g, "w1", 32, 32), null, null, 1, Padding.same(1)));
        g.output(g.conv2d(big, weight(g, "w2", 16, 16), null, null, 1, Padding.same(1)));
        g.output(g.conv2d(small, weight(g, "w3", 32, 32), null, null, 1, Padding.same(1)));
        g.output(g.conv2d(tiny, weight(g, "w4", 32, 32), null, null, 1, Padding.same(1)));
        g.output(g.conv2d(rgb, weight(g, "w5", 8, 3), null, null, 1, Padding.same(1)));
        g.output(g.conv2d(mid, weight(g, "w6", 8, 32), null, null, 2, Padding.same(1)));
        return g.build();
    }

    private static Value weight(GraphBuilder g, String name, int cout, int cin) {
        return g.constant(name, Tensor.allocate(Shape.of(cout, cin, 3, 3), DType.F32));
    }

    private static List<Op.Conv2d> convs(Graph graph) {
        return graph.ops().stream().filter(Op.Conv2d.class::isInstance).map(Op.Conv2d.class::cast).toList();
    }

    private static WinogradSelection select(Graph graph, ConvAlgorithm algorithm, long budget, boolean f32AsF16) {
        return new WinogradSelection(graph, new KernelOptions(algorithm, WinogradConv.CHUNK_FLOATS, budget, f32AsF16));
    }

    /** The kept filters of the big (64x64) and mid (32x32) layers together. */
    private static long bigAndMidBytes(List<Op.Conv2d> c) {
        return WinogradSelection.cachedBytes(WinogradTile.F4, ConvKernels.Geometry.of(c.get(1)))
                + WinogradSelection.cachedBytes(WinogradTile.F4, ConvKernels.Geometry.of(c.get(0)));
    }

    @Test
    void eachLayerTakesTheLargestTileThatFillsItsGemmsOrIm2col() {
        Graph graph = graph();
        List<Op.Conv2d> c = convs(graph);
        WinogradSelection auto = select(graph, ConvAlgorithm.AUTO, 0, false);
        assertThat(c.stream().map(auto::tile).toList()).as("32x32, 64x64, 8x8, 4x4, 3 input channels, stride 2")
                .containsExactly(WinogradTile.F4, WinogradTile.F4, WinogradTile.F2, null, null, null);

        WinogradSelection f2 = select(graph, ConvAlgorithm.WINOGRAD_F2, 0, false);
        assertThat(c.stream().map(f2::tile).toList())
                .containsExactly(WinogradTile.F2, WinogradTile.F2, WinogradTile.F2, WinogradTile.F2, WinogradTile.F2, null);
        WinogradSelection f4 = select(graph, ConvAlgorithm.WINOGRAD_F4, 0, false);
        assertThat(c.stream().map(f4::tile).toList())
                .containsExactly(WinogradTile.F4, WinogradTile.F4, WinogradTile.F4, WinogradTile.F4, WinogradTile.F4, null);
        WinogradSelection im2col = select(graph, ConvAlgorithm.IM2COL, Long.MAX_VALUE, false);
        assertThat(c).allMatch(op -> im2col.tile(op) == null).noneMatch(im2col::keepsFilters);
    }

    @Test
    void layersWithTheMostTilesKeepTheirFiltersFirstAndTheRestTransformThemAsTheyRun() {
        Graph graph = graph();
        List<Op.Conv2d> c = convs(graph);

        WinogradSelection all = select(graph, ConvAlgorithm.AUTO, Long.MAX_VALUE, false);
        assertThat(c.subList(0, 3)).allMatch(all::keepsFilters);
        assertThat(c.subList(3, 6)).as("im2col layers keep no Winograd filters").noneMatch(all::keepsFilters);

        WinogradSelection bigAndMid = select(graph, ConvAlgorithm.AUTO, bigAndMidBytes(c), false);
        assertThat(bigAndMid.keepsFilters(c.get(0))).isTrue();
        assertThat(bigAndMid.keepsFilters(c.get(1))).isTrue();
        assertThat(bigAndMid.keepsFilters(c.get(2))).as("8x8: 16 tiles, the fewest, comes last").isFalse();
        assertThat(bigAndMid.tile(c.get(2))).as("streamed, not im2col").isEqualTo(WinogradTile.F2);

        WinogradSelection onlyBig = select(graph, ConvAlgorithm.AUTO, bigAndMidBytes(c) - 1, false);
        assertThat(onlyBig.keepsFilters(c.get(1))).isTrue();
        assertThat(onlyBig.keepsFilters(c.get(0))).isFalse();
        assertThat(onlyBig.keepsFilters(c.get(2))).as("the next that fits the rest of the budget").isTrue();
        assertThat(onlyBig.tile(c.get(0))).as("streamed, not im2col").isEqualTo(WinogradTile.F4);

        WinogradSelection none = select(graph, ConvAlgorithm.AUTO, 0, false);
        assertThat(c).noneMatch(none::keepsFilters);
    }

    @Test
    void keptF2FiltersTake16ValuesPer9Weights() {
        ConvKernels.Geometry g = ConvKernels.Geometry.of(convs(graph()).get(2));
        long panelRows = (long) Gemm.panelsA(g.cout()) * Gemm.MR;
        assertThat(WinogradSelection.cachedBytes(WinogradTile.F2, g)).isEqualTo(4 * 16 * panelRows * g.cin());
        assertThat(WinogradSelection.cachedBytes(WinogradTile.F4, g)).isEqualTo(4 * 36 * panelRows * g.cin());
    }

    @Test
    void f32WeightsPackedAsF16KeepNoFiltersWhateverTheBudget() {
        Graph graph = graph();
        List<Op.Conv2d> c = convs(graph);
        WinogradSelection asF16 = select(graph, ConvAlgorithm.AUTO, Long.MAX_VALUE, true);
        assertThat(c).noneMatch(asF16::keepsFilters);
        assertThat(asF16.tile(c.get(0))).as("still Winograd").isEqualTo(WinogradTile.F4);
    }

    @Test
    void twoByteWeightsKeepF32FiltersWithinTheBudget() {
        GraphBuilder g = new GraphBuilder("f16 weights");
        Value x = g.input("x", Shape.of(1, 32, 32, 32), DType.F32);
        g.output(g.conv2d(x, g.constant("w", Tensor.allocate(Shape.of(32, 32, 3, 3), DType.F16)), null, null, 1, Padding.same(1)));
        Graph f16 = g.build();
        Op.Conv2d conv = convs(f16).getFirst();
        long f32Filters = WinogradSelection.cachedBytes(WinogradTile.F4, ConvKernels.Geometry.of(conv));
        assertThat(f32Filters).as("4 bytes a value, whatever the weights' storage, over whole A panels")
                .isEqualTo(4L * 36 * Gemm.panelsA(32) * Gemm.MR * 32);
        assertThat(select(f16, ConvAlgorithm.AUTO, f32Filters, false).keepsFilters(conv)).isTrue();
        assertThat(select(f16, ConvAlgorithm.AUTO, f32Filters - 1, false).keepsFilters(conv)).isFalse();
    }

    @Test
    void budgetComesFromTheSystemProperty() {
        System.setProperty(CpuSettings.WINOGRAD_CACHE_MIB, "3");
        try {
            assertThat(CpuSettings.winogradCacheBytes()).isEqualTo(3L << 20);
            System.setProperty(CpuSettings.WINOGRAD_CACHE_MIB, "lots");
            org.assertj.core.api.Assertions.assertThatThrownBy(CpuSettings::winogradCacheBytes)
                    .hasMessageContaining(CpuSettings.WINOGRAD_CACHE_MIB);
        } finally {
            System.clearProperty(CpuSettings.WINOGRAD_CACHE_MIB);
        }
        assertThat(CpuSettings.winogradCacheBytes()).isEqualTo(CpuSettings.DEFAULT_WINOGRAD_CACHE_BYTES);
    }
}
