package io.jdiffusion.models.vae;

import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.models.config.VaeConfig;
import io.jdiffusion.models.nn.Conv;
import io.jdiffusion.models.nn.Downsample2D;
import io.jdiffusion.models.nn.Norm;
import io.jdiffusion.models.nn.ResnetBlock2D;
import io.jdiffusion.models.nn.Taps;
import io.jdiffusion.models.nn.Upsample2D;
import io.jdiffusion.models.weights.Parameter;
import io.jdiffusion.models.weights.WeightReader;
import io.jdiffusion.models.weights.WeightSource;

import java.util.ArrayList;
import java.util.List;

/**
 * The image autoencoder of SD, as diffusers' {@code AutoencoderKL}: the decoder turns latents into images
 * (post_quant_conv, conv_in, mid block with attention, up blocks with nearest upsampling, GroupNorm+SiLU,
 * conv_out), the encoder turns images into the mean and log-variance of the latent distribution (for
 * image-to-image). Latents are scaled by {@link #scalingFactor()} outside these graphs, as in diffusers.
 */
public final class AutoencoderKL {
    private final VaeConfig config;
    // encoder
    private final Conv encConvIn;
    private final List<List<ResnetBlock2D>> encResnets;
    private final List<Downsample2D> encDownsamplers;
    private final VaeMidBlock encMid;
    private final Norm encNormOut;
    private final Conv encConvOut;
    private final Conv quantConv;
    // decoder
    private final Conv postQuantConv;
    private final Conv decConvIn;
    private final VaeMidBlock decMid;
    private final List<List<ResnetBlock2D>> decResnets;
    private final List<Upsample2D> decUpsamplers;
    private final Norm decNormOut;
    private final Conv decConvOut;
    /** The two halves (mean, logvar) of the convolution that produces the moments. */
    private final Conv meanConv;
    private final Conv logvarConv;
    private final List<Parameter> parameters;

    private AutoencoderKL(VaeConfig config, Conv encConvIn, List<List<ResnetBlock2D>> encResnets,
                          List<Downsample2D> encDownsamplers, VaeMidBlock encMid, Norm encNormOut, Conv encConvOut,
                          Conv quantConv, Conv postQuantConv, Conv decConvIn, VaeMidBlock decMid,
                          List<List<ResnetBlock2D>> decResnets, List<Upsample2D> decUpsamplers, Norm decNormOut,
                          Conv decConvOut, List<Parameter> parameters) {
        this.config = config;
        this.encConvIn = encConvIn;
        this.encResnets = encResnets;
        this.encDownsamplers = encDownsamplers;
        this.encMid = encMid;
        this.encNormOut = encNormOut;
        this.encConvOut = encConvOut;
        this.quantConv = quantConv;
        this.postQuantConv = postQuantConv;
        this.decConvIn = decConvIn;
        this.decMid = decMid;
        this.decResnets = decResnets;
        this.decUpsamplers = decUpsamplers;
        this.decNormOut = decNormOut;
        this.decConvOut = decConvOut;
        this.parameters = List.copyOf(parameters);
        Conv moments = quantConv != null ? quantConv : encConvOut;
        this.meanConv = half(moments, 0);
        this.logvarConv = half(moments, 1);
    }

    /**
     * Takes the weights (diffusers names) from {@code source}; fails with one error listing every missing,
     * mis-shaped or unexpected tensor.
     */
    public static AutoencoderKL load(VaeConfig c, WeightSource source, String configSource) {
        WeightReader r = new WeightReader(source, "vae", configSource);
        List<Integer> ch = c.blockOutChannels();
        int n = c.numBlocks();
        int groups = c.normGroups();
        float eps = VaeConfig.NORM_EPS;
        int latent = c.latentChannels();

        Conv encConvIn = Conv.load(r, "encoder.conv_in", ch.getFirst(), c.inChannels(), 3);
        List<List<ResnetBlock2D>> encResnets = new ArrayList<>();
        List<Downsample2D> encDown = new ArrayList<>();
        int out = ch.getFirst();
        for (int i = 0; i < n; i++) {
            int in = out;
            out = ch.get(i);
            String p = "encoder.down_blocks." + i;
            List<ResnetBlock2D> resnets = new ArrayList<>();
            for (int j = 0; j < c.layersPerBlock(); j++) {
                resnets.add(ResnetBlock2D.load(r, p + ".resnets." + j, j == 0 ? in : out, out, 0, groups, eps));
            }
            encResnets.add(List.copyOf(resnets));
            encDown.add(i < n - 1 ? Downsample2D.load(r, p + ".downsamplers.0", out, 0) : null);
        }
        VaeMidBlock encMid = VaeMidBlock.load(r, "encoder.mid_block", c);
        Norm encNormOut = Norm.load(r, "encoder.conv_norm_out", ch.getLast());
        Conv encConvOut = Conv.load(r, "encoder.conv_out", 2 * latent, ch.getLast(), 3);
        Conv quantConv = c.useQuantConv() ? Conv.load(r, "quant_conv", 2 * latent, 2 * latent, 1) : null;

        Conv postQuantConv = c.usePostQuantConv() ? Conv.load(r, "post_quant_conv", latent, latent, 1) : null;
        Conv decConvIn = Conv.load(r, "decoder.conv_in", ch.getLast(), latent, 3);
        VaeMidBlock decMid = VaeMidBlock.load(r, "decoder.mid_block", c);
        List<List<ResnetBlock2D>> decResnets = new ArrayList<>();
        List<Upsample2D> decUp = new ArrayList<>();
        out = ch.getLast();
        for (int i = 0; i < n; i++) {
            int prev = out;
            out = ch.get(n - 1 - i);
            String p = "decoder.up_blocks." + i;
            List<ResnetBlock2D> resnets = new ArrayList<>();
            for (int j = 0; j < c.layersPerBlock() + 1; j++) {
                resnets.add(ResnetBlock2D.load(r, p + ".resnets." + j, j == 0 ? prev : out, out, 0, groups, eps));
            }
            decResnets.add(List.copyOf(resnets));
            decUp.add(i < n - 1 ? Upsample2D.load(r, p + ".upsamplers.0", out) : null);
        }
        Norm decNormOut = Norm.load(r, "decoder.conv_norm_out", ch.getFirst());
        Conv decConvOut = Conv.load(r, "decoder.conv_out", c.outChannels(), ch.getFirst(), 3);
        r.finish();
        return new AutoencoderKL(c, encConvIn, encResnets, encDown, encMid, encNormOut, encConvOut, quantConv,
                postQuantConv, decConvIn, decMid, decResnets, decUp, decNormOut, decConvOut, r.parameters());
    }

    // ---- decoder --------------------------------------------------------------------------------------

    /** Input {@code z} [B, latentChannels, h, w], already divided by the scaling factor; output 0 the raw image [B, 3, H, W]. */
    public Graph decoderGraph(int batch, int latentH, int latentW) {
        return decoderGraph(batch, latentH, latentW, List.of());
    }

    public List<String> decoderTapNames() {
        List<String> names = new ArrayList<>(List.of("post_quant_conv", "decoder.conv_in", "decoder.mid_block"));
        for (int i = 0; i < config.numBlocks(); i++) {
            names.add("decoder.up_blocks." + i);
        }
        names.add("decoder.conv_out");
        return names;
    }

    /** As {@link #decoderGraph(int, int, int)} with one extra output per tapped module (see {@link #decoderTapNames()}). */
    public Graph decoderGraph(int batch, int latentH, int latentW, List<String> taps) {
        Taps tap = new Taps(taps, decoderTapNames());
        GraphBuilder g = new GraphBuilder("vae_decoder");
        Value x = g.input("z", Shape.of(batch, config.latentChannels(), latentH, latentW), DType.F32);
        if (postQuantConv != null) {
            g.scope("post_quant_conv");
            x = tap.tap("post_quant_conv", postQuantConv.same(g, x));
        } else if (tap.wants("post_quant_conv")) {
            throw new IllegalArgumentException("this VAE has no post_quant_conv");
        }
        g.scope("decoder.conv_in");
        x = tap.tap("decoder.conv_in", decConvIn.same(g, x));
        g.scope("decoder.mid_block");
        x = tap.tap("decoder.mid_block", decMid.forward(g, x));
        for (int i = 0; i < decResnets.size(); i++) {
            g.scope("decoder.up_blocks." + i);
            for (ResnetBlock2D resnet : decResnets.get(i)) {
                x = resnet.forward(g, x, null);
            }
            if (decUpsamplers.get(i) != null) {
                x = decUpsamplers.get(i).forward(g, x);
            }
            tap.tap("decoder.up_blocks." + i, x);
        }
        g.scope("decoder.conv_out");
        x = decNormOut.groupNorm(g, x, config.normGroups(), VaeConfig.NORM_EPS, true);
        Value out = tap.tap("decoder.conv_out", decConvOut.same(g, x));
        g.output(out);
        tap.addOutputs(g, out);
        return g.build();
    }

    // ---- encoder --------------------------------------------------------------------------------------

    /**
     * Input {@code image} [B, 3, H, W] in [-1, 1]; outputs 0 and 1: {@code mean} and {@code logvar}
     * [B, latentChannels, H/f, W/f]. The log-variance is NOT clamped here (the SPI has no clamp operator):
     * {@link DiagonalGaussian} clamps it to [-30, 20] on the host, as diffusers does.
     */
    public Graph encoderGraph(int batch, int height, int width) {
        return encoderGraph(batch, height, width, List.of());
    }

    public List<String> encoderTapNames() {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < config.numBlocks(); i++) {
            names.add("encoder.down_blocks." + i);
        }
        names.addAll(List.of("encoder.mid_block", "encoder.conv_out", "quant_conv"));
        return names;
    }

    /** As {@link #encoderGraph(int, int, int)} with one extra output per tapped module (see {@link #encoderTapNames()}). */
    public Graph encoderGraph(int batch, int height, int width, List<String> taps) {
        int f = downscaleFactor();
        if (height % f != 0 || width % f != 0) {
            throw new IllegalArgumentException("image size " + height + "x" + width + " must be a multiple of " + f);
        }
        Taps tap = new Taps(taps, encoderTapNames());
        GraphBuilder g = new GraphBuilder("vae_encoder");
        Value x = g.input("image", Shape.of(batch, config.inChannels(), height, width), DType.F32);
        g.scope("encoder.conv_in");
        x = encConvIn.same(g, x);
        for (int i = 0; i < encResnets.size(); i++) {
            g.scope("encoder.down_blocks." + i);
            for (ResnetBlock2D resnet : encResnets.get(i)) {
                x = resnet.forward(g, x, null);
            }
            if (encDownsamplers.get(i) != null) {
                x = encDownsamplers.get(i).forward(g, x);
            }
            tap.tap("encoder.down_blocks." + i, x);
        }
        g.scope("encoder.mid_block");
        x = tap.tap("encoder.mid_block", encMid.forward(g, x));
        g.scope("encoder.conv_out");
        x = encNormOut.groupNorm(g, x, config.normGroups(), VaeConfig.NORM_EPS, true);
        // The moments' two halves (mean, logvar) come from the two halves of the last convolution's output
        // channels; convolving with each half of its kernel (zero-copy row slices) splits them without a copy.
        Value mean;
        Value logvar;
        if (quantConv != null) {
            Value h = tap.tap("encoder.conv_out", encConvOut.same(g, x));
            g.scope("quant_conv");
            mean = meanConv.same(g, h);
            logvar = logvarConv.same(g, h);
        } else {
            if (tap.wants("quant_conv")) {
                throw new IllegalArgumentException("this VAE has no quant_conv");
            }
            mean = meanConv.same(g, x);
            logvar = logvarConv.same(g, x);
            if (tap.wants("encoder.conv_out")) {
                tap.tap("encoder.conv_out", g.concat(1, mean, logvar));
            }
        }
        if (tap.wants("quant_conv")) {
            tap.tap("quant_conv", g.concat(1, mean, logvar));
        }
        g.output(mean);
        g.output(logvar);
        tap.addOutputs(g, mean, logvar);
        return g.build();
    }

    /** The convolution producing output channels [k L, (k+1) L) of {@code conv}, L = latent channels. */
    private Conv half(Conv conv, int k) {
        long l = config.latentChannels();
        // Row slices along the output-channel dimension are zero-copy views of the stored kernel.
        Parameter w = conv.weight();
        Parameter b = conv.bias();
        return new Conv(new Parameter(w.name() + "[" + k + "]", w.tensor().slice(k * l, (k + 1) * l)),
                new Parameter(b.name() + "[" + k + "]", b.tensor().slice(k * l, (k + 1) * l)), conv.kernel());
    }

    public VaeConfig config() {
        return config;
    }

    public float scalingFactor() {
        return config.scalingFactor();
    }

    /** Pixels per latent along each side: 8 for SD, 2 for the tiny test model. */
    public int downscaleFactor() {
        return config.downscaleFactor();
    }

    public int latentChannels() {
        return config.latentChannels();
    }

    /** Every weight under its diffusers name, in the order the network takes them. */
    public List<Parameter> parameters() {
        return parameters;
    }

    /** Elements of all weights. */
    public long parameterCount() {
        return parameters.stream().mapToLong(p -> p.tensor().elementCount()).sum();
    }
}
