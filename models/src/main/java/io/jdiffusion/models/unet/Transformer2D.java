package io.jdiffusion.models.unet;

import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.models.nn.Conv;
import io.jdiffusion.models.nn.Dense;
import io.jdiffusion.models.nn.Norm;
import io.jdiffusion.models.weights.WeightReader;

import java.util.ArrayList;
import java.util.List;

/**
 * diffusers' {@code Transformer2DModel} on a feature map [B, C, H, W]: GroupNorm (eps 1e-6, as diffusers
 * fixes it), proj_in, transformer blocks on the HW tokens, proj_out, plus the input. SD 1.x projects with
 * 1x1 convolutions before flattening; SD 2.x ({@code use_linear_projection}) with linear layers after.
 * Feature maps become token sequences by a free reshape [B, C, HW] and one transpose to [B, HW, C].
 */
final class Transformer2D {
    private static final float GN_EPS = 1e-6f;

    private final Norm norm;
    private final Conv projInConv;
    private final Conv projOutConv;
    private final Dense projInLinear;
    private final Dense projOutLinear;
    private final List<BasicTransformerBlock> blocks;
    private final int groups;

    private Transformer2D(Norm norm, Conv projInConv, Conv projOutConv, Dense projInLinear, Dense projOutLinear,
                          List<BasicTransformerBlock> blocks, int groups) {
        this.norm = norm;
        this.projInConv = projInConv;
        this.projOutConv = projOutConv;
        this.projInLinear = projInLinear;
        this.projOutLinear = projOutLinear;
        this.blocks = List.copyOf(blocks);
        this.groups = groups;
    }

    static Transformer2D load(WeightReader r, String p, int channels, int heads, int layers, int crossDim,
                              int groups, boolean linearProjection) {
        Norm norm = Norm.load(r, p + ".norm", channels);
        Conv inConv = null;
        Dense inLinear = null;
        if (linearProjection) {
            inLinear = Dense.load(r, p + ".proj_in", channels, channels);
        } else {
            inConv = Conv.load(r, p + ".proj_in", channels, channels, 1);
        }
        List<BasicTransformerBlock> blocks = new ArrayList<>();
        for (int i = 0; i < layers; i++) {
            blocks.add(BasicTransformerBlock.load(r, p + ".transformer_blocks." + i, channels, crossDim, heads));
        }
        Conv outConv = null;
        Dense outLinear = null;
        if (linearProjection) {
            outLinear = Dense.load(r, p + ".proj_out", channels, channels);
        } else {
            outConv = Conv.load(r, p + ".proj_out", channels, channels, 1);
        }
        return new Transformer2D(norm, inConv, outConv, inLinear, outLinear, blocks, groups);
    }

    Value forward(GraphBuilder g, Value x, Value context) {
        long b = x.shape().dim(0), c = x.shape().dim(1), h = x.shape().dim(2), w = x.shape().dim(3);
        Value n = norm.groupNorm(g, x, groups, GN_EPS, false);
        Value tokens;
        if (projInConv != null) {
            tokens = g.transpose(g.reshape(projInConv.same(g, n), b, c, h * w));
        } else {
            tokens = projInLinear.apply(g, g.transpose(g.reshape(n, b, c, h * w)));
        }
        for (BasicTransformerBlock block : blocks) {
            tokens = block.forward(g, tokens, context);
        }
        if (projOutConv != null) {
            Value map = g.reshape(g.transpose(tokens), b, c, h, w);
            return projOutConv.same(g, map, x);
        }
        Value map = g.reshape(g.transpose(projOutLinear.apply(g, tokens)), b, c, h, w);
        return g.add(map, x);
    }
}
