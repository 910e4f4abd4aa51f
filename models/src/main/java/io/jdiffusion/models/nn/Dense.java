package io.jdiffusion.models.nn;

import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.models.weights.Parameter;
import io.jdiffusion.models.weights.WeightReader;

/** A linear layer's weights (PyTorch's {@code nn.Linear}): weight [out, in], optional bias [out]. */
public record Dense(Parameter weight, Parameter bias) {
    public static Dense load(WeightReader r, String prefix, int out, int in, boolean withBias) {
        return new Dense(r.take(prefix + ".weight", out, in), withBias ? r.take(prefix + ".bias", out) : null);
    }

    public static Dense load(WeightReader r, String prefix, int out, int in) {
        return load(r, prefix, out, in, true);
    }

    public Value apply(GraphBuilder g, Value x) {
        return apply(g, x, Activation.NONE, null);
    }

    /** act(x W^T + b) + residual, as one fused operator. */
    public Value apply(GraphBuilder g, Value x, Activation activation, Value residual) {
        return g.linear(x, weight.in(g), Parameter.in(g, bias), activation, residual);
    }
}
