package io.jdiffusion.models.nn;

import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.models.weights.Parameter;
import io.jdiffusion.models.weights.WeightReader;

/** The affine weights of a GroupNorm or LayerNorm over {@code channels}. */
public record Norm(Parameter weight, Parameter bias) {
    public static Norm load(WeightReader r, String prefix, int channels) {
        return new Norm(r.take(prefix + ".weight", channels), r.take(prefix + ".bias", channels));
    }

    public Value groupNorm(GraphBuilder g, Value x, int groups, float eps, boolean silu) {
        return g.groupNorm(x, weight.in(g), bias.in(g), groups, eps, silu);
    }

    public Value layerNorm(GraphBuilder g, Value x, float eps) {
        return g.layerNorm(x, weight.in(g), bias.in(g), eps);
    }
}
