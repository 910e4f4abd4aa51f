package io.jdiffusion.models.unet;

import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.models.nn.Dense;
import io.jdiffusion.models.weights.WeightReader;

/**
 * diffusers' {@code Attention} as used in the UNet's transformer blocks: bias-free q/k/v projections,
 * multi-head scaled dot-product attention on packed heads, and an output projection (with bias) whose
 * fused residual is the block's input.
 */
record CrossAttention(Dense q, Dense k, Dense v, Dense out, int heads, int headDim) {
    /** @param contextDim width of the keys' and values' source: the query width for self-attention */
    static CrossAttention load(WeightReader r, String prefix, int dim, int contextDim, int heads) {
        return new CrossAttention(
                Dense.load(r, prefix + ".to_q", dim, dim, false),
                Dense.load(r, prefix + ".to_k", dim, contextDim, false),
                Dense.load(r, prefix + ".to_v", dim, contextDim, false),
                Dense.load(r, prefix + ".to_out.0", dim, dim, true),
                heads, dim / heads);
    }

    /** residual + out(attention(q(x), k(context), v(context))). */
    Value forward(GraphBuilder g, Value x, Value context, Value residual) {
        Value a = g.attention(q.apply(g, x), k.apply(g, context), v.apply(g, context), heads,
                (float) (1.0 / Math.sqrt(headDim)), false);
        return out.apply(g, a, Activation.NONE, residual);
    }
}
