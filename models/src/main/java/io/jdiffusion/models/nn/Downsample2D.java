package io.jdiffusion.models.nn;

import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Padding;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.models.weights.WeightReader;

/**
 * diffusers' {@code Downsample2D} with a convolution: a 3x3 stride-2 conv. With padding 0 (the VAE
 * encoder) diffusers first pads right and bottom by one, so the output is exactly half the size.
 */
public record Downsample2D(Conv conv, int padding) {
    public static Downsample2D load(WeightReader r, String prefix, int channels, int padding) {
        return new Downsample2D(Conv.load(r, prefix + ".conv", channels, channels, 3), padding);
    }

    public Value forward(GraphBuilder g, Value x) {
        Padding p = padding == 0 ? new Padding(0, 1, 0, 1) : Padding.same(padding);
        return conv.apply(g, x, 2, p, null);
    }
}
