package io.jdiffusion.models.nn;

import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.models.weights.WeightReader;

/**
 * diffusers' {@code ResnetBlock2D} (default time-embedding shift, output scale 1):
 * {@code out = shortcut(x) + conv2(silu(norm2(conv1(silu(norm1(x))) + proj(silu(temb))[:, :, None, None])))}.
 * The shortcut is a 1x1 convolution when the channel count changes. The UNet's blocks take a time
 * embedding; the VAE's do not ({@code timeProjection} null).
 *
 * <p>Recorded as: GroupNorm+SiLU, conv, broadcast add of the projected embedding, GroupNorm+SiLU, and a
 * conv whose fused residual is the shortcut.
 */
public record ResnetBlock2D(Norm norm1, Conv conv1, Dense timeProjection, Norm norm2, Conv conv2, Conv shortcut,
                            int outChannels, int groups, float eps) {
    /** @param timeEmbedDim width of the time embedding, or 0 for a block without one (VAE) */
    public static ResnetBlock2D load(WeightReader r, String prefix, int in, int out, int timeEmbedDim, int groups, float eps) {
        return new ResnetBlock2D(
                Norm.load(r, prefix + ".norm1", in),
                Conv.load(r, prefix + ".conv1", out, in, 3),
                timeEmbedDim > 0 ? Dense.load(r, prefix + ".time_emb_proj", out, timeEmbedDim) : null,
                Norm.load(r, prefix + ".norm2", out),
                Conv.load(r, prefix + ".conv2", out, out, 3),
                in != out ? Conv.load(r, prefix + ".conv_shortcut", out, in, 1) : null,
                out, groups, eps);
    }

    /** @param timeEmbSilu silu(time embedding) [B, T], shared by all blocks; null for blocks without one */
    public Value forward(GraphBuilder g, Value x, Value timeEmbSilu) {
        Value h = norm1.groupNorm(g, x, groups, eps, true);
        h = conv1.same(g, h);
        if (timeProjection != null) {
            Value t = timeProjection.apply(g, timeEmbSilu);
            h = g.add(h, g.reshape(t, t.shape().dim(0), outChannels, 1, 1));
        }
        h = norm2.groupNorm(g, h, groups, eps, true);
        Value skip = shortcut == null ? x : shortcut.same(g, x);
        return conv2.same(g, h, skip);
    }
}
