package io.jdiffusion.backend.graph;

import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BufferPlanTest {
    @Test
    void reusesMemoryOfDeadValuesAndBindsInputsAndOutputs() {
        GraphBuilder g = new GraphBuilder("chain");
        Value x = g.input("x", Shape.of(1024), DType.F32);
        Value a = g.unary(x, Activation.SILU);
        Value b = g.unary(a, Activation.SILU);
        Value c = g.unary(b, Activation.SILU);
        Value r = g.reshape(c, 32, 32);
        Value d = g.unary(r, Activation.SILU);
        g.output(d);
        Graph graph = g.build();
        BufferPlan plan = BufferPlan.plan(graph, 64);
        // a and c can share bytes (a dies when b is made), b needs its own: two buffers of 4 KiB.
        assertThat(plan.arenaBytes()).isEqualTo(2 * 4096);
        assertThat(plan.binding(x)).isEqualTo(BufferPlan.Binding.INPUT);
        assertThat(plan.binding(d)).isEqualTo(BufferPlan.Binding.OUTPUT);
        assertThat(plan.arenaOffset(r)).isEqualTo(plan.arenaOffset(c));
        assertThat(plan.arenaOffset(a)).isNotEqualTo(plan.arenaOffset(b));
    }

    @Test
    void refusesAGraphOutputThatAliasesAnInput() {
        GraphBuilder g = new GraphBuilder("alias");
        Value x = g.input("x", Shape.of(4), DType.F32);
        Value y = g.reshape(x, 2, 2);
        g.output(y);
        assertThatThrownBy(() -> BufferPlan.plan(g.build(), 64)).hasMessageContaining("share storage");
    }

    @Test
    void anOperatorWritesInPlaceOverAnInputThatDiesThere() {
        GraphBuilder g = new GraphBuilder("in place");
        Value x = g.input("x", Shape.of(1024), DType.F32);
        Value a = g.unary(x, Activation.SILU);
        Value b = g.unary(a, Activation.SILU);
        Value r = g.reshape(b, 32, 32);
        Value c = g.unary(r, Activation.SILU);
        Value d = g.unary(c, Activation.SILU);
        g.output(d);
        BufferPlan plan = BufferPlan.plan(g.build(), 64, op -> op instanceof Op.Unary);
        assertThat(plan.binding(a)).as("a graph input is never written over").isEqualTo(BufferPlan.Binding.ARENA);
        assertThat(List.of(plan.arenaOffset(b), plan.arenaOffset(r), plan.arenaOffset(c))).containsOnly(plan.arenaOffset(a));
        assertThat(plan.storageRoot(c)).isEqualTo(plan.storageRoot(a));
        assertThat(plan.binding(d)).as("nor written into a graph output's storage").isEqualTo(BufferPlan.Binding.OUTPUT);
        assertThat(plan.arenaBytes()).as("one buffer where two alternated").isEqualTo(4096);
        assertThat(BufferPlan.plan(g.build(), 64).arenaBytes()).as("without in-place operators").isEqualTo(2 * 4096);
    }

    @Test
    void anInputReadLaterOrTwiceOrOfAnotherSizeIsNotWrittenOver() {
        GraphBuilder g = new GraphBuilder("kept");
        Value x = g.input("x", Shape.of(1024), DType.F32);
        Value a = g.unary(x, Activation.SILU);
        Value b = g.unary(a, Activation.SILU);
        Value sum = g.add(a, b);
        Value twice = g.add(sum, sum);
        Value wider = g.concat(0, twice, x);
        Value last = g.unary(wider, Activation.SILU);
        g.output(g.add(last, last));
        BufferPlan plan = BufferPlan.plan(g.build(), 64, op -> true);
        assertThat(plan.arenaOffset(b)).as("a is read after b is made").isNotEqualTo(plan.arenaOffset(a));
        assertThat(plan.storageRoot(twice)).as("its one input read twice").isNotEqualTo(plan.storageRoot(sum));
        assertThat(plan.storageRoot(wider)).as("a larger output").isNotEqualTo(plan.storageRoot(twice));
        assertThat(plan.storageRoot(last)).isEqualTo(plan.storageRoot(wider));
    }

    /**
     * On random graphs with every operator allowed in place: values sharing storage are written one after another,
     * each read for the last time no later than the operator that writes the next over it; values of different
     * storage alive at the same operator never overlap.
     */
    @RepeatedTest(20)
    void inPlaceWritesNeverClobberALaterRead() {
        Graph graph = randomGraph(new SplittableRandom());
        BufferPlan plan = BufferPlan.plan(graph, 64, op -> true);
        int[][] span = lifetimes(graph);
        for (Value p : graph.values()) {
            for (Value q : graph.values()) {
                if (p == q || plan.binding(p) != BufferPlan.Binding.ARENA || plan.binding(q) != BufferPlan.Binding.ARENA) {
                    continue;
                }
                if (plan.storageRoot(p) == plan.storageRoot(q)) {
                    assertThat(plan.arenaOffset(p)).isEqualTo(plan.arenaOffset(q));
                    if (span[0][p.id()] < span[0][q.id()]) {
                        assertThat(span[1][p.id()]).as("%s read after %s is written over it", p, q).isLessThanOrEqualTo(span[0][q.id()]);
                    }
                    continue;
                }
                boolean liveTogether = span[0][p.id()] <= span[1][q.id()] && span[0][q.id()] <= span[1][p.id()];
                boolean overlap = plan.arenaOffset(p) < plan.arenaOffset(q) + q.byteSize()
                        && plan.arenaOffset(q) < plan.arenaOffset(p) + p.byteSize();
                assertThat(liveTogether && overlap).as("%s and %s", p, q).isFalse();
            }
        }
    }

    /** On random graphs, no two arena buffers alive at the same operator may overlap. */
    @RepeatedTest(20)
    void liveBuffersNeverOverlap() {
        Graph graph = randomGraph(new SplittableRandom());
        BufferPlan plan = BufferPlan.plan(graph, 64);
        int[][] span = lifetimes(graph);
        for (Value p : graph.values()) {
            for (Value q : graph.values()) {
                if (p == q || plan.binding(p) != BufferPlan.Binding.ARENA || plan.binding(q) != BufferPlan.Binding.ARENA) {
                    continue;
                }
                boolean liveTogether = span[0][p.id()] <= span[1][q.id()] && span[0][q.id()] <= span[1][p.id()];
                boolean overlap = plan.arenaOffset(p) < plan.arenaOffset(q) + q.byteSize()
                        && plan.arenaOffset(q) < plan.arenaOffset(p) + p.byteSize();
                assertThat(liveTogether && overlap).as("%s and %s", p, q).isFalse();
                assertThat(plan.arenaOffset(p) + p.byteSize()).isLessThanOrEqualTo(plan.arenaBytes());
            }
        }
        assertThat(Tensor.liveBytes()).isGreaterThanOrEqualTo(0);
    }

    private static Graph randomGraph(SplittableRandom random) {
        GraphBuilder g = new GraphBuilder("random");
        List<Value> pool = new ArrayList<>();
        pool.add(g.input("x", Shape.of(1 + random.nextInt(300)), DType.F32));
        for (int i = 0; i < 60; i++) {
            Value a = pool.get(random.nextInt(pool.size()));
            Value b = pool.get(random.nextInt(pool.size()));
            Value v = (a.shape().equals(b.shape()) && random.nextBoolean()) ? g.add(a, b)
                    : random.nextInt(4) == 0 ? g.concat(0, a, b) : g.unary(a, Activation.GELU);
            pool.add(v);
        }
        g.output(pool.get(pool.size() - 1));
        return g.build();
    }

    /** Each value's first write and last read, in operator indices: {first, last}. */
    private static int[][] lifetimes(Graph graph) {
        List<Op> ops = graph.ops();
        int[] first = new int[graph.values().size()];
        int[] last = new int[graph.values().size()];
        java.util.Arrays.fill(first, -1);
        for (int i = 0; i < ops.size(); i++) {
            first[ops.get(i).out().id()] = i;
            last[ops.get(i).out().id()] = i;
            for (Value in : ops.get(i).inputs()) {
                last[in.id()] = i;
            }
        }
        return new int[][]{first, last};
    }
}
