package io.jdiffusion.models.vae;

import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.models.config.VaeConfig;
import io.jdiffusion.models.nn.ResnetBlock2D;
import io.jdiffusion.models.weights.WeightReader;

/** diffusers' {@code UNetMidBlock2D} without time embedding: ResNet, (attention,) ResNet. */
record VaeMidBlock(ResnetBlock2D first, VaeAttention attention, ResnetBlock2D second) {
    static VaeMidBlock load(WeightReader r, String p, VaeConfig c) {
        int ch = c.blockOutChannels().getLast();
        return new VaeMidBlock(
                ResnetBlock2D.load(r, p + ".resnets.0", ch, ch, 0, c.normGroups(), VaeConfig.NORM_EPS),
                c.midBlockAttention() ? VaeAttention.load(r, p + ".attentions.0", ch, c.normGroups()) : null,
                ResnetBlock2D.load(r, p + ".resnets.1", ch, ch, 0, c.normGroups(), VaeConfig.NORM_EPS));
    }

    Value forward(GraphBuilder g, Value x) {
        x = first.forward(g, x, null);
        if (attention != null) {
            x = attention.forward(g, x);
        }
        return second.forward(g, x, null);
    }
}
