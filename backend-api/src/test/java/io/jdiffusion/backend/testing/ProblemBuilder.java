package io.jdiffusion.backend.testing;

import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * Records a test graph with random inputs and weights, keeping track of the tensors it makes. A staged builder
 * passes every float input and every output through an exact "+ 0", so that the operators under test read and
 * write intermediate values (a backend's own activation storage, such as F16 on a GPU) rather than the graph's
 * inputs and outputs.
 */
public final class ProblemBuilder {
    private final GraphBuilder graph;
    private final TestRandom random;
    private final boolean staged;
    private final List<Tensor> inputs = new ArrayList<>();
    private final List<Tensor> owned = new ArrayList<>();
    private Value zero;

    public ProblemBuilder(String name, TestRandom random) {
        this(name, random, false);
    }

    public ProblemBuilder(String name, TestRandom random, boolean staged) {
        this.graph = new GraphBuilder(name);
        this.random = random;
        this.staged = staged;
    }

    public GraphBuilder graph() {
        return graph;
    }

    public TestRandom random() {
        return random;
    }

    /** A graph input of N(0, 1) values. */
    public Value input(String name, long... dims) {
        return input(name, random.normal(Shape.of(dims), 1));
    }

    /** A graph input holding {@code data} (taken over: closed with the problem). */
    public Value input(String name, Tensor data) {
        owned.add(data);
        inputs.add(data);
        Value in = graph.input(name, data.shape(), data.dtype());
        return staged && data.dtype().isFloatingPoint() ? throughIntermediate(in) : in;
    }

    /** v + 0: the same numbers, as an intermediate value of the graph. */
    private Value throughIntermediate(Value v) {
        if (zero == null) {
            zero = constant("zero", Tensor.ofFloats(Shape.of(1), 0.0f));
        }
        return graph.add(v, zero);
    }

    /** A constant of N(mean, std^2) values stored as {@code dtype} (F16/BF16 round the F32 draw). */
    public Value constant(String name, DType dtype, double mean, double std, long... dims) {
        Tensor t = random.normal(Shape.of(dims), mean, std);
        if (dtype != DType.F32) {
            Tensor narrow = t.to(dtype);
            t.close();
            t = narrow;
        }
        return constant(name, t);
    }

    /** A weight of N(0, 1/fanIn) values, as models initialise them. */
    public Value weight(String name, DType dtype, long fanIn, long... dims) {
        return constant(name, dtype, 0, 1 / Math.sqrt(fanIn), dims);
    }

    public Value constant(String name, Tensor data) {
        owned.add(data);
        return graph.constant(name, data);
    }

    public Problem build(Value... outputs) {
        for (Value v : outputs) {
            graph.output(staged && v.dtype().isFloatingPoint() ? throughIntermediate(v) : v);
        }
        return new Problem(graph.build(), inputs, owned);
    }
}
