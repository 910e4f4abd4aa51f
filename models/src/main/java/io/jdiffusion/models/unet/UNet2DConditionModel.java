package io.jdiffusion.models.unet;

import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.models.config.UNetConfig;
import io.jdiffusion.models.nn.Conv;
import io.jdiffusion.models.nn.Dense;
import io.jdiffusion.models.nn.Downsample2D;
import io.jdiffusion.models.nn.Norm;
import io.jdiffusion.models.nn.ResnetBlock2D;
import io.jdiffusion.models.nn.Taps;
import io.jdiffusion.models.nn.Upsample2D;
import io.jdiffusion.models.weights.Parameter;
import io.jdiffusion.models.weights.WeightReader;
import io.jdiffusion.models.weights.WeightSource;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The denoising network of SD 1.x/2.x and SDXL, as diffusers' {@code UNet2DConditionModel}: sinusoidal time
 * embedding and its MLP (SDXL adds {@code add_embedding} of the pooled text embedding and six time ids), conv_in, down blocks (ResNet blocks, cross-attention transformers, strided-conv
 * downsampling), a mid block, up blocks that concatenate the down path's skips (nearest upsampling + conv),
 * and GroupNorm+SiLU+conv_out. Configured from {@code unet/config.json}; recorded as a graph of the SPI's
 * fused operators.
 */
public final class UNet2DConditionModel {
    /** Graph input of SDXL's pooled text embedding [B, pooled width]. */
    public static final String TEXT_EMBEDS = "text_embeds";
    /** Graph input of SDXL's time ids [B, 6]: original size (h, w), crop top-left, target size (h, w). */
    public static final String TIME_IDS = "time_ids";
    private final UNetConfig config;
    private final String predictionType;
    private final Dense timeLinear1;
    private final Dense timeLinear2;
    /** SDXL's {@code add_embedding} (text_time); null for UNets without added conditioning. */
    private final Dense addLinear1;
    private final Dense addLinear2;
    private final Conv convIn;
    private final List<DownBlock> downBlocks;
    private final MidBlock midBlock;
    private final List<UpBlock> upBlocks;
    private final Norm normOut;
    private final Conv convOut;
    private final List<Parameter> parameters;

    private record DownBlock(List<ResnetBlock2D> resnets, List<Transformer2D> attentions, Downsample2D downsampler) {
    }

    private record MidBlock(ResnetBlock2D first, List<Transformer2D> attentions, List<ResnetBlock2D> resnets) {
    }

    private record UpBlock(List<ResnetBlock2D> resnets, List<Transformer2D> attentions, Upsample2D upsampler) {
    }

    private UNet2DConditionModel(UNetConfig config, String predictionType, Dense timeLinear1, Dense timeLinear2,
                                 Dense addLinear1, Dense addLinear2, Conv convIn,
                                 List<DownBlock> downBlocks, MidBlock midBlock, List<UpBlock> upBlocks, Norm normOut,
                                 Conv convOut, List<Parameter> parameters) {
        this.config = config;
        this.predictionType = predictionType;
        this.timeLinear1 = timeLinear1;
        this.timeLinear2 = timeLinear2;
        this.addLinear1 = addLinear1;
        this.addLinear2 = addLinear2;
        this.convIn = convIn;
        this.downBlocks = List.copyOf(downBlocks);
        this.midBlock = midBlock;
        this.upBlocks = List.copyOf(upBlocks);
        this.normOut = normOut;
        this.convOut = convOut;
        this.parameters = List.copyOf(parameters);
    }

    /**
     * Takes the weights (diffusers names) from {@code source}; fails with one error listing every missing,
     * mis-shaped or unexpected tensor.
     *
     * @param predictionType what the network predicts, from the scheduler config ({@code epsilon} or
     *                       {@code v_prediction}); kept here so callers find it with the network
     */
    public static UNet2DConditionModel load(UNetConfig c, String predictionType, WeightSource source, String configSource) {
        WeightReader r = new WeightReader(source, "unet", configSource);
        int n = c.numBlocks();
        List<Integer> ch = c.blockOutChannels();
        int temb = c.timeEmbedDim();
        int groups = c.normGroups();
        float eps = c.normEps();
        int cross = c.crossAttentionDim();
        boolean linear = c.useLinearProjection();

        Dense t1 = Dense.load(r, "time_embedding.linear_1", temb, c.timeProjDim());
        Dense t2 = Dense.load(r, "time_embedding.linear_2", temb, temb);
        Dense add1 = null;
        Dense add2 = null;
        if (c.hasTextTimeConditioning()) {
            add1 = Dense.load(r, "add_embedding.linear_1", temb, c.addEmbedInputDim());
            add2 = Dense.load(r, "add_embedding.linear_2", temb, temb);
        }
        Conv convIn = Conv.load(r, "conv_in", ch.getFirst(), c.inChannels(), c.convInKernel());

        List<DownBlock> down = new ArrayList<>();
        int out = ch.getFirst();
        for (int i = 0; i < n; i++) {
            int in = out;
            out = ch.get(i);
            String p = "down_blocks." + i;
            List<ResnetBlock2D> resnets = new ArrayList<>();
            List<Transformer2D> attentions = new ArrayList<>();
            for (int j = 0; j < c.layersPerBlock().get(i); j++) {
                resnets.add(ResnetBlock2D.load(r, p + ".resnets." + j, j == 0 ? in : out, out, temb, groups, eps));
                if (c.downHasAttention(i)) {
                    attentions.add(Transformer2D.load(r, p + ".attentions." + j, out, c.attentionHeads().get(i),
                            c.transformerLayersPerBlock().get(i), cross, groups, linear));
                }
            }
            Downsample2D ds = i < n - 1 ? Downsample2D.load(r, p + ".downsamplers.0", out, c.downsamplePadding()) : null;
            down.add(new DownBlock(resnets, attentions, ds));
        }

        int midC = ch.getLast();
        ResnetBlock2D midFirst = ResnetBlock2D.load(r, "mid_block.resnets.0", midC, midC, temb, groups, eps);
        List<Transformer2D> midAttn = List.of(Transformer2D.load(r, "mid_block.attentions.0", midC,
                c.attentionHeads().getLast(), c.transformerLayersPerBlock().getLast(), cross, groups, linear));
        List<ResnetBlock2D> midRest = List.of(ResnetBlock2D.load(r, "mid_block.resnets.1", midC, midC, temb, groups, eps));
        MidBlock mid = new MidBlock(midFirst, midAttn, midRest);

        List<Integer> rev = reversed(ch);
        List<Integer> revHeads = reversed(c.attentionHeads());
        List<Integer> revLayers = reversed(c.layersPerBlock());
        List<Integer> revTransformerLayers = reversed(c.transformerLayersPerBlock());
        List<UpBlock> up = new ArrayList<>();
        out = rev.getFirst();
        for (int i = 0; i < n; i++) {
            int prevOut = out;
            out = rev.get(i);
            int in = rev.get(Math.min(i + 1, n - 1));
            int layers = revLayers.get(i) + 1;
            String p = "up_blocks." + i;
            List<ResnetBlock2D> resnets = new ArrayList<>();
            List<Transformer2D> attentions = new ArrayList<>();
            for (int j = 0; j < layers; j++) {
                int skip = j == layers - 1 ? in : out;
                int resIn = j == 0 ? prevOut : out;
                resnets.add(ResnetBlock2D.load(r, p + ".resnets." + j, resIn + skip, out, temb, groups, eps));
                if (c.upHasAttention(i)) {
                    attentions.add(Transformer2D.load(r, p + ".attentions." + j, out, revHeads.get(i),
                            revTransformerLayers.get(i), cross, groups, linear));
                }
            }
            Upsample2D us = i < n - 1 ? Upsample2D.load(r, p + ".upsamplers.0", out) : null;
            up.add(new UpBlock(resnets, attentions, us));
        }
        Norm normOut = Norm.load(r, "conv_norm_out", ch.getFirst());
        Conv convOut = Conv.load(r, "conv_out", c.outChannels(), ch.getFirst(), c.convOutKernel());
        r.finish();
        return new UNet2DConditionModel(c, predictionType, t1, t2, add1, add2, convIn, down, mid, up, normOut, convOut, r.parameters());
    }

    private static List<Integer> reversed(List<Integer> list) {
        List<Integer> copy = new ArrayList<>(list);
        Collections.reverse(copy);
        return copy;
    }

    /**
     * Inputs: {@code sample} F32 [B, inChannels, h, w], {@code timestep} F32 [B] (fractional timesteps are
     * fine), {@code encoder_hidden_states} F32 [B, contextTokens, crossAttentionDim], then the
     * {@link #addedInputs()} in order. Output 0: the prediction [B, outChannels, h, w]. The context and the added
     * inputs are steady inputs ({@link GraphBuilder#steadyInput}): a caller keeps them for the whole loop.
     */
    public Graph graph(UNetCall call) {
        return graph(call, List.of());
    }

    /**
     * The added-conditioning inputs this UNet takes after sample, timestep and context: SDXL's
     * {@code text_embeds} [B, pooled width] and {@code time_ids} [B, 6]; none for SD 1.x/2.x.
     */
    public List<AddedInput> addedInputs() {
        if (addLinear1 == null) {
            return List.of();
        }
        return List.of(new AddedInput(TEXT_EMBEDS, config.pooledTextDim()), new AddedInput(TIME_IDS, UNetConfig.TIME_IDS));
    }

    /** Module names {@link #graph(UNetCall, List)} can tap, as diffusers names the modules. */
    public List<String> tapNames() {
        List<String> names = new ArrayList<>(List.of("time_proj", "time_embedding"));
        if (addLinear1 != null) {
            names.addAll(List.of("add_time_proj", "add_embedding"));
        }
        names.add("conv_in");
        for (int i = 0; i < downBlocks.size(); i++) {
            names.add("down_blocks." + i);
        }
        names.add("mid_block");
        for (int i = 0; i < upBlocks.size(); i++) {
            names.add("up_blocks." + i);
        }
        names.addAll(List.of("conv_norm_out", "conv_out"));
        return names;
    }

    /**
     * As {@link #graph(UNetCall)}, with one extra output per name in {@code taps} (see
     * {@link #tapNames()}), in that order: the module's output as diffusers' forward hooks see it (for a
     * down block, its hidden state after the downsampler; {@code conv_norm_out} before the SiLU).
     */
    public Graph graph(UNetCall call, List<String> taps) {
        int batch = call.batch();
        int latentH = call.latentH();
        int latentW = call.latentW();
        int contextTokens = call.contextTokens();
        int f = config.downscaleFactor();
        if (latentH % f != 0 || latentW % f != 0) {
            throw new IllegalArgumentException("latent size " + latentH + "x" + latentW + " must be a multiple of " + f
                    + " (the UNet halves it " + (downBlocks.size() - 1) + " times); for images that is a multiple of "
                    + f + " x the VAE factor");
        }
        Taps tap = new Taps(taps, tapNames());
        GraphBuilder g = new GraphBuilder("unet");
        Value sample = g.input("sample", Shape.of(batch, config.inChannels(), latentH, latentW), DType.F32);
        Value timestep = g.input("timestep", Shape.of(batch), DType.F32);
        // The conditioning is the same for every call of a denoising loop: a backend may keep it on its device.
        Value context = g.steadyInput("encoder_hidden_states", Shape.of(batch, contextTokens, config.crossAttentionDim()), DType.F32);
        List<Value> added = new ArrayList<>();
        for (AddedInput in : addedInputs()) {
            added.add(g.steadyInput(in.name(), Shape.of(batch, in.width()), DType.F32));
        }

        g.scope("time_embedding");
        Value tproj = tap.tap("time_proj", g.timestepEmbedding(timestep, config.timeProjDim(), config.flipSinToCos(),
                config.freqShift(), 1f, 10000f));
        Value emb = tap.tap("time_embedding",
                timeLinear2.apply(g, timeLinear1.apply(g, tproj, Activation.SILU, null)));
        if (addLinear1 != null) {
            emb = g.add(emb, addedEmbedding(g, tap, added.get(0), added.get(1), batch));
        }
        Value embSilu = g.unary(emb, Activation.SILU); // every ResNet block projects silu(emb)

        g.scope("conv_in");
        Value x = tap.tap("conv_in", convIn.same(g, sample));
        List<Value> skips = new ArrayList<>();
        skips.add(x);
        for (int i = 0; i < downBlocks.size(); i++) {
            g.scope("down_blocks." + i);
            DownBlock block = downBlocks.get(i);
            for (int j = 0; j < block.resnets().size(); j++) {
                x = block.resnets().get(j).forward(g, x, embSilu);
                if (!block.attentions().isEmpty()) {
                    x = block.attentions().get(j).forward(g, x, context);
                }
                skips.add(x);
            }
            if (block.downsampler() != null) {
                x = block.downsampler().forward(g, x);
                skips.add(x);
            }
            tap.tap("down_blocks." + i, x);
        }

        g.scope("mid_block");
        x = midBlock.first().forward(g, x, embSilu);
        for (int j = 0; j < midBlock.attentions().size(); j++) {
            x = midBlock.attentions().get(j).forward(g, x, context);
            x = midBlock.resnets().get(j).forward(g, x, embSilu);
        }
        tap.tap("mid_block", x);

        for (int i = 0; i < upBlocks.size(); i++) {
            g.scope("up_blocks." + i);
            UpBlock block = upBlocks.get(i);
            for (int j = 0; j < block.resnets().size(); j++) {
                x = g.concat(1, x, skips.removeLast());
                x = block.resnets().get(j).forward(g, x, embSilu);
                if (!block.attentions().isEmpty()) {
                    x = block.attentions().get(j).forward(g, x, context);
                }
            }
            if (block.upsampler() != null) {
                x = block.upsampler().forward(g, x);
            }
            tap.tap("up_blocks." + i, x);
        }

        g.scope("conv_out");
        Value act;
        if (tap.wants("conv_norm_out")) {
            act = g.unary(tap.tap("conv_norm_out", normOut.groupNorm(g, x, config.normGroups(), config.normEps(), false)),
                    Activation.SILU);
        } else {
            act = normOut.groupNorm(g, x, config.normGroups(), config.normEps(), true);
        }
        Value out = tap.tap("conv_out", convOut.same(g, act));
        g.output(out);
        tap.addOutputs(g, out);
        return g.build();
    }

    /**
     * SDXL's added embedding: each of the six time ids gets its own sinusoidal embedding (the time
     * projection's settings, {@code addition_time_embed_dim} wide); they follow the pooled text embedding into
     * add_embedding (linear, SiLU, linear), whose output is added to the time embedding.
     */
    private Value addedEmbedding(GraphBuilder g, Taps tap, Value textEmbeds, Value timeIds, int batch) {
        int dim = config.addTimeEmbedDim();
        Value flat = g.reshape(timeIds, (long) batch * UNetConfig.TIME_IDS);
        Value proj = tap.tap("add_time_proj", g.timestepEmbedding(flat, dim, config.flipSinToCos(), config.freqShift(),
                1f, 10000f));
        Value in = g.concat(1, textEmbeds, g.reshape(proj, batch, (long) UNetConfig.TIME_IDS * dim));
        return tap.tap("add_embedding", addLinear2.apply(g, addLinear1.apply(g, in, Activation.SILU, null)));
    }

    public UNetConfig config() {
        return config;
    }

    public int inChannels() {
        return config.inChannels();
    }

    public int outChannels() {
        return config.outChannels();
    }

    public int sampleSize() {
        return config.sampleSize();
    }

    public int crossAttentionDim() {
        return config.crossAttentionDim();
    }

    /** {@code epsilon} or {@code v_prediction}, from the model's scheduler config. */
    public String predictionType() {
        return predictionType;
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
