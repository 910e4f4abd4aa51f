package io.jdiffusion.backend.testing;

import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.core.Tensor;

import java.util.List;

/** A graph with host inputs, plus every tensor the problem owns (inputs and constants), closed together. */
public record Problem(Graph graph, List<Tensor> inputs, List<Tensor> owned) implements AutoCloseable {
    public Problem {
        inputs = List.copyOf(inputs);
        owned = List.copyOf(owned);
    }

    @Override
    public void close() {
        owned.forEach(Tensor::close);
    }
}
