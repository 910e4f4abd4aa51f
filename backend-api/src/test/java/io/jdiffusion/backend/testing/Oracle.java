package io.jdiffusion.backend.testing;

import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.core.Tensor;

import java.util.List;

/** What a backend's results are compared with: the float64 reference, or another trusted backend. */
@FunctionalInterface
public interface Oracle {
    /** The graph's outputs, in {@link Graph#outputs()} order, for host {@code inputs}. */
    List<double[]> evaluate(Graph graph, List<Tensor> inputs);

    /** The float64 reference of every operator. */
    static Oracle reference() {
        return ReferenceOps::run;
    }
}
