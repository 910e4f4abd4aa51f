package io.jdiffusion.models.vae;

import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.models.config.VaeConfig;
import io.jdiffusion.models.nn.Dense;
import io.jdiffusion.models.nn.Norm;
import io.jdiffusion.models.weights.WeightReader;

/**
 * The single-head self-attention of the VAE's mid block (diffusers' {@code Attention} with group norm and
 * residual): GroupNorm, q/k/v projections with bias over the HW positions, attention with one head of the
 * full channel width, output projection, plus the input.
 */
record VaeAttention(Norm norm, Dense q, Dense k, Dense v, Dense out, int groups) {
    static VaeAttention load(WeightReader r, String p, int channels, int groups) {
        return new VaeAttention(
                Norm.load(r, p + ".group_norm", channels),
                Dense.load(r, p + ".to_q", channels, channels),
                Dense.load(r, p + ".to_k", channels, channels),
                Dense.load(r, p + ".to_v", channels, channels),
                Dense.load(r, p + ".to_out.0", channels, channels),
                groups);
    }

    Value forward(GraphBuilder g, Value x) {
        long b = x.shape().dim(0), c = x.shape().dim(1), h = x.shape().dim(2), w = x.shape().dim(3);
        Value tokens = g.transpose(g.reshape(norm.groupNorm(g, x, groups, VaeConfig.NORM_EPS, false), b, c, h * w));
        Value a = g.attention(q.apply(g, tokens), k.apply(g, tokens), v.apply(g, tokens), 1,
                (float) (1.0 / Math.sqrt(c)), false);
        Value map = g.reshape(g.transpose(out.apply(g, a)), b, c, h, w);
        return g.add(map, x);
    }
}
