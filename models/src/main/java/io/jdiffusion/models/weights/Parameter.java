package io.jdiffusion.models.weights;

import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.Tensor;

/** One weight tensor of a network under its diffusers name; it becomes a graph constant when a graph is recorded. */
public record Parameter(String name, Tensor tensor) {
    /** The constant for this weight in {@code g} (one constant per tensor however often it is used). */
    public Value in(GraphBuilder g) {
        return g.constant(name, tensor);
    }

    /** {@link #in} for an optional weight; null stays null. */
    public static Value in(GraphBuilder g, Parameter p) {
        return p == null ? null : p.in(g);
    }
}
