package io.jdiffusion.models.unet;

import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.models.nn.Dense;
import io.jdiffusion.models.nn.Norm;
import io.jdiffusion.models.weights.WeightReader;

/**
 * diffusers' {@code BasicTransformerBlock} on tokens [B, N, C]: LN, self-attention, LN, cross-attention on
 * the text embeddings, LN, GEGLU feed-forward (C to 8C split into value and gate, back to C), each with a
 * residual connection. LayerNorm epsilon 1e-5, diffusers' default.
 */
record BasicTransformerBlock(Norm norm1, CrossAttention attn1, Norm norm2, CrossAttention attn2, Norm norm3,
                             Dense geglu, Dense ffOut) {
    private static final float LN_EPS = 1e-5f;

    static BasicTransformerBlock load(WeightReader r, String p, int dim, int crossDim, int heads) {
        int inner = 4 * dim;
        return new BasicTransformerBlock(
                Norm.load(r, p + ".norm1", dim),
                CrossAttention.load(r, p + ".attn1", dim, dim, heads),
                Norm.load(r, p + ".norm2", dim),
                CrossAttention.load(r, p + ".attn2", dim, crossDim, heads),
                Norm.load(r, p + ".norm3", dim),
                Dense.load(r, p + ".ff.net.0.proj", 2 * inner, dim),
                Dense.load(r, p + ".ff.net.2", dim, inner));
    }

    Value forward(GraphBuilder g, Value x, Value context) {
        Value h = norm1.layerNorm(g, x, LN_EPS);
        x = attn1.forward(g, h, h, x);
        h = norm2.layerNorm(g, x, LN_EPS);
        x = attn2.forward(g, h, context, x);
        h = norm3.layerNorm(g, x, LN_EPS);
        return ffOut.apply(g, geglu.apply(g, h, Activation.GEGLU, null), Activation.NONE, x);
    }
}
