package io.jdiffusion.models.nn;

import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Padding;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.models.weights.Parameter;
import io.jdiffusion.models.weights.WeightReader;

/** A 2-D convolution's weights (PyTorch's {@code nn.Conv2d} with bias): kernel [out, in, k, k] and bias [out]. */
public record Conv(Parameter weight, Parameter bias, int kernel) {
    public static Conv load(WeightReader r, String prefix, int out, int in, int kernel) {
        return new Conv(r.take(prefix + ".weight", out, in, kernel, kernel), r.take(prefix + ".bias", out), kernel);
    }

    /** Stride 1, "same" zero padding (k/2 on every side), optional residual added to the output. */
    public Value same(GraphBuilder g, Value x, Value residual) {
        return apply(g, x, 1, Padding.same(kernel / 2), residual);
    }

    public Value same(GraphBuilder g, Value x) {
        return same(g, x, null);
    }

    public Value apply(GraphBuilder g, Value x, int stride, Padding padding, Value residual) {
        return g.conv2d(x, weight.in(g), bias.in(g), residual, stride, padding);
    }
}
