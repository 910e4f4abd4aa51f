package io.jdiffusion.backend.graph;

import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class GraphBuilderTest {
    private final Tensor w3x3 = Tensor.allocate(Shape.of(8, 4, 3, 3), DType.F16);
    private final Tensor bias8 = Tensor.allocate(Shape.of(8), DType.F32);

    @Test
    void steadyInputsAreInputsInRecordingOrderThatTheGraphNames() {
        GraphBuilder g = new GraphBuilder("steady");
        Value x = g.input("x", Shape.of(2, 4), DType.F32);
        Value context = g.steadyInput("context", Shape.of(2, 4), DType.F32);
        Value ids = g.input("ids", Shape.of(2), DType.I64);
        g.output(g.add(x, context));
        Graph graph = g.build();
        assertThat(graph.inputs()).containsExactly(x, context, ids);
        assertThat(graph.steadyInputs()).containsExactly(context);
        assertThat(graph.isSteady(context)).isTrue();
        assertThat(graph.isSteady(x)).isFalse();
        assertThatThrownBy(() -> new Graph("bad", graph.values(), graph.ops(), java.util.List.of(x), graph.outputs(), java.util.List.of(context)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("steady input").hasMessageContaining("not an input");
    }

    @Test
    void infersShapesOfEveryOperator() {
        GraphBuilder g = new GraphBuilder("shapes");
        Value x = g.input("x", Shape.of(2, 4, 9, 7), DType.F32);
        Value w = g.constant("w", w3x3);
        Value b = g.constant("b", bias8);
        assertThat(g.conv2d(x, w, b, null, 1, Padding.same(1)).shape()).isEqualTo(Shape.of(2, 8, 9, 7));
        assertThat(g.conv2d(x, w, null, null, 2, Padding.same(1)).shape()).isEqualTo(Shape.of(2, 8, 5, 4));
        assertThat(g.conv2d(x, w, null, null, 2, new Padding(0, 1, 0, 1)).shape()).isEqualTo(Shape.of(2, 8, 4, 3));
        Value seq = g.input("seq", Shape.of(2, 77, 32), DType.F32);
        Value lw = g.constant("lw", Tensor.allocate(Shape.of(64, 32), DType.F32));
        assertThat(g.linear(seq, lw, null, Activation.GEGLU, null).shape()).isEqualTo(Shape.of(2, 77, 32));
        assertThat(g.attention(seq, seq, seq, 4, 0.5f, true).shape()).isEqualTo(Shape.of(2, 77, 32));
        assertThat(g.transpose(seq).shape()).isEqualTo(Shape.of(2, 32, 77));
        assertThat(g.upsample2x(x).shape()).isEqualTo(Shape.of(2, 4, 18, 14));
        assertThat(g.concat(1, x, x).shape()).isEqualTo(Shape.of(2, 8, 9, 7));
        Value t = g.input("t", Shape.of(2), DType.F32);
        assertThat(g.timestepEmbedding(t, 320, true, 0, 1, 10000).shape()).isEqualTo(Shape.of(2, 320));
        Value ids = g.input("ids", Shape.of(2, 77), DType.I64);
        Value table = g.constant("table", Tensor.allocate(Shape.of(1000, 32), DType.F32));
        assertThat(g.embedding(ids, table).shape()).isEqualTo(Shape.of(2, 77, 32));
        Value scale = g.reshape(g.linear(g.timestepEmbedding(t, 32, true, 0, 1, 10000), lw, null), 2, 64, 1, 1);
        assertThat(g.add(g.conv2d(x, g.constant("w2", Tensor.allocate(Shape.of(64, 4, 1, 1), DType.F32)), null, null, 1, Padding.same(0)), scale).shape())
                .isEqualTo(Shape.of(2, 64, 9, 7));
    }

    @Test
    void rejectsMismatchedOperandsWithAClearMessage() {
        GraphBuilder g = new GraphBuilder("bad");
        Value x = g.input("x", Shape.of(1, 3, 8, 8), DType.F32);
        assertThatThrownBy(() -> g.conv2d(x, g.constant("w", w3x3), null, null, 1, Padding.same(1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("does not take 3 input channels");
        assertThatThrownBy(() -> g.groupNorm(x, g.constant("b", bias8), g.constant("b", bias8), 2, 1e-5f, true))
                .hasMessageContaining("not divisible into 2 groups");
        assertThatThrownBy(() -> g.add(x, g.input("y", Shape.of(1, 4, 8, 8), DType.F32)))
                .hasMessageContaining("do not broadcast");
        Value q = g.input("q", Shape.of(1, 10, 40), DType.F32);
        assertThatThrownBy(() -> g.attention(q, q, q, 3, 1, false)).hasMessageContaining("3 heads");
        assertThatThrownBy(g::build).hasMessageContaining("no outputs");
        assertThatThrownBy(() -> g.output(x)).hasMessageContaining("only operator results");
    }

    @Test
    void sameTensorGivenTwiceIsOneConstant() {
        GraphBuilder g = new GraphBuilder("c");
        assertThat(g.constant("a", bias8)).isSameAs(g.constant("b", bias8));
    }
}
