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
    /** Three qualifying layers: 64x64 (256 tiles), 32x32 (64 tiles), and an 8x8 one that never qualifies. */
    private static Graph graph() {
        GraphBuilder g = new GraphBuilder("convs");
        Value big = g.input("big", Shape.of(1, 16, 64, 64), DType.F32);
        Value mid = g.input("mid", Shape.of(1, 32, 32, 32), DType.F32);
        Value small = g.input("small", Shape.of(1, 32, 8, 8), DType.F32);
        g.output(g.conv2d(mid, g.constant("w1", Tensor.allocate(Shape.of(32, 32, 3, 3), DType.F32)), null, null, 1, Padding.same(1)));
        g.output(g.conv2d(big, g.constant("w2", Tensor.allocate(Shape.of(16, 16, 3, 3), DType.F32)), null, null, 1, Padding.same(1)));
        g.output(g.conv2d(small, g.constant("w3", Tensor.allocate(Shape.of(32, 32, 3, 3), DType.F32)), null, null, 1, Padding.same(1)));
        return g.build();
    }

    private static List<Op.Conv2d> convs(Graph graph) {
        return graph.ops().stream().filter(Op.Conv2d.class::isInstance).map(Op.Conv2d.class::cast).toList();
    }

    /** The kept filters of the big (64x64) and mid (32x32) layers together, at {@code bytesPerValue}. */
    private static long bigAndMidBytes(List<Op.Conv2d> c, int bytesPerValue) {
        return WinogradSelection.cachedBytes(ConvKernels.Geometry.of(c.get(1)), bytesPerValue)
                + WinogradSelection.cachedBytes(ConvKernels.Geometry.of(c.get(0)), bytesPerValue);
    }

    @Test
    void layersWithTheMostTilesKeepTheirFiltersFirstAndTheRestTransformThemAsTheyRun() {
        Graph graph = graph();
        List<Op.Conv2d> c = convs(graph);

        WinogradSelection all = new WinogradSelection(graph, Long.MAX_VALUE, false);
        assertThat(all.usesWinograd(c.get(0))).isTrue();
        assertThat(all.usesWinograd(c.get(1))).isTrue();
        assertThat(all.usesWinograd(c.get(2))).as("8x8 has only 4 tiles").isFalse();
        assertThat(all.keepsFilters(c.get(0))).isTrue();
        assertThat(all.keepsFilters(c.get(1))).isTrue();
        assertThat(all.keepsFilters(c.get(2))).isFalse();

        WinogradSelection onlyBig = new WinogradSelection(graph, bigAndMidBytes(c, 4) - 1, false);
        assertThat(onlyBig.keepsFilters(c.get(1))).isTrue();
        assertThat(onlyBig.keepsFilters(c.get(0))).isFalse();
        assertThat(onlyBig.usesWinograd(c.get(0))).as("streamed, not im2col").isTrue();

        WinogradSelection none = new WinogradSelection(graph, 0, false);
        assertThat(c).noneMatch(none::keepsFilters);
        assertThat(c.subList(0, 2)).allMatch(none::usesWinograd);
    }

    @Test
    void twoByteWeightsKeepFiltersAtHalfTheBytes() {
        Graph graph = graph();
        List<Op.Conv2d> c = convs(graph);
        WinogradSelection asF16 = new WinogradSelection(graph, bigAndMidBytes(c, 2), true);
        assertThat(asF16.keepsFilters(c.get(0))).isTrue();
        assertThat(asF16.keepsFilters(c.get(1))).isTrue();
        WinogradSelection asF32 = new WinogradSelection(graph, bigAndMidBytes(c, 2), false);
        assertThat(asF32.keepsFilters(c.get(0))).isFalse();
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
        assertThat(CpuSettings.winogradCacheBytes()).isEqualTo(CpuSettings.DEFAULT_WINOGRAD_CACHE_MIB << 20);
    }
}
