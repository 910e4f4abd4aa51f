package io.jdiffusion.models.nn;

import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.models.weights.WeightReader;

/** diffusers' {@code Upsample2D} with a convolution: nearest-neighbour 2x, then a 3x3 conv. */
public record Upsample2D(Conv conv) {
    public static Upsample2D load(WeightReader r, String prefix, int channels) {
        return new Upsample2D(Conv.load(r, prefix + ".conv", channels, channels, 3));
    }

    public Value forward(GraphBuilder g, Value x) {
        return conv.same(g, g.upsample2x(x));
    }
}
