package io.jdiffusion.models.config;

import io.jdiffusion.core.OneLine;

import java.util.List;
import java.util.Set;

/**
 * The architecture of a diffusers {@code UNet2DConditionModel} (SD 1.x, 2.x and SDXL), from {@code unet/config.json}.
 * Lists hold one entry per down block, in down-block order; up blocks use them reversed, as diffusers does.
 *
 * @param attentionHeads     heads of the transformer blocks per down block. diffusers' {@code attention_head_dim} is
 *                           the number of heads (8 for SD 1.5, [5, 10, 20, 20] for SD 2.x): a historical misnomer it keeps.
 * @param upcastAttention    diffusers' {@code upcast_attention} (SD 2.1): attention scores and softmax in F32 even
 *                           when the network runs in F16. Every backend computes them in F32 in every precision
 *                           (see {@code Op.Attention}), so the setting is always in force; it is kept to say so.
 * @param addTimeEmbedDim    SDXL's {@code addition_time_embed_dim} (256): the sinusoidal width of each time id of
 *                           {@code addition_embed_type: text_time}; 0 for UNets without added conditioning
 * @param addEmbedInputDim   SDXL's {@code projection_class_embeddings_input_dim} (2816 = 1280 pooled text + 6 x 256
 *                           time ids): the input width of {@code add_embedding}; 0 without added conditioning
 */
public record UNetConfig(int inChannels, int outChannels, int sampleSize, List<Integer> blockOutChannels,
                         List<String> downBlockTypes, List<String> upBlockTypes, List<Integer> layersPerBlock,
                         List<Integer> attentionHeads, List<Integer> transformerLayersPerBlock,
                         int crossAttentionDim, int normGroups, float normEps, boolean flipSinToCos, float freqShift,
                         boolean useLinearProjection, int downsamplePadding, int convInKernel, int convOutKernel,
                         int timeEmbedDim, boolean upcastAttention, int addTimeEmbedDim, int addEmbedInputDim) {
    /** SDXL's {@code addition_embed_type}: pooled text embeds and six time ids added to the time embedding. */
    public static final String TEXT_TIME = "text_time";
    /** Time ids of {@link #TEXT_TIME}: original size (h, w), crop top-left (top, left), target size (h, w). */
    public static final int TIME_IDS = 6;
    public static final String CROSS_ATTN_DOWN = "CrossAttnDownBlock2D";
    public static final String DOWN = "DownBlock2D";
    public static final String CROSS_ATTN_UP = "CrossAttnUpBlock2D";
    public static final String UP = "UpBlock2D";
    public static final String MID_CROSS_ATTN = "UNetMidBlock2DCrossAttn";

    public UNetConfig {
        blockOutChannels = List.copyOf(blockOutChannels);
        downBlockTypes = List.copyOf(downBlockTypes);
        upBlockTypes = List.copyOf(upBlockTypes);
        layersPerBlock = List.copyOf(layersPerBlock);
        attentionHeads = List.copyOf(attentionHeads);
        transformerLayersPerBlock = List.copyOf(transformerLayersPerBlock);
    }

    public static UNetConfig fromJson(ConfigJson c) {
        c.requireUnsetOr("_class_name", "jdiffusion reads UNet2DConditionModel", "UNet2DConditionModel");
        String notSd = "jdiffusion runs SD 1.x/2.x and SDXL UNets";
        c.requireUnsetOr("act_fn", notSd, "silu");
        c.requireUnsetOr("center_input_sample", notSd, false);
        c.requireUnsetOr("class_embed_type", notSd);
        c.requireUnsetOr("num_class_embeds", notSd);
        c.requireUnsetOr("addition_embed_type", "jdiffusion implements SDXL's added conditioning", TEXT_TIME);
        c.requireUnsetOr("encoder_hid_dim", notSd);
        c.requireUnsetOr("encoder_hid_dim_type", notSd);
        c.requireUnsetOr("time_cond_proj_dim", "latent-consistency time conditioning is not implemented");
        c.requireUnsetOr("time_embedding_type", notSd, "positional");
        c.requireUnsetOr("time_embedding_act_fn", notSd);
        c.requireUnsetOr("timestep_post_act", notSd);
        c.requireUnsetOr("resnet_time_scale_shift", notSd, "default");
        c.requireUnsetOr("resnet_skip_time_act", notSd, false);
        c.requireUnsetOr("resnet_out_scale_factor", notSd, 1);
        c.requireUnsetOr("mid_block_scale_factor", notSd, 1);
        c.requireUnsetOr("attention_type", notSd, "default");
        c.requireUnsetOr("dual_cross_attention", notSd, false);
        c.requireUnsetOr("only_cross_attention", notSd, false);
        c.requireUnsetOr("cross_attention_norm", notSd);
        c.requireUnsetOr("reverse_transformer_layers_per_block", notSd);
        c.requireUnsetOr("mid_block_type", "jdiffusion implements " + MID_CROSS_ATTN, MID_CROSS_ATTN);

        List<Integer> channels = c.requireIntList("block_out_channels");
        int n = channels.size();
        List<String> down = c.requireStringList("down_block_types");
        List<String> up = c.requireStringList("up_block_types");
        if (down.size() != n || up.size() != n) {
            throw c.invalid(n + " block_out_channels but " + down.size() + " down and " + up.size() + " up block types");
        }
        for (String t : down) {
            if (!Set.of(CROSS_ATTN_DOWN, DOWN).contains(t)) {
                throw c.invalid("down block type '" + OneLine.of(t) + "' is not supported (" + CROSS_ATTN_DOWN + ", " + DOWN + ")");
            }
        }
        for (String t : up) {
            if (!Set.of(CROSS_ATTN_UP, UP).contains(t)) {
                throw c.invalid("up block type '" + OneLine.of(t) + "' is not supported (" + CROSS_ATTN_UP + ", " + UP + ")");
            }
        }
        if (c.get("cross_attention_dim") != null && c.get("cross_attention_dim").isArray()) {
            throw c.unsupported("cross_attention_dim", c.get("cross_attention_dim"), "one cross-attention width for all blocks");
        }
        String headsKey = c.has("num_attention_heads") ? "num_attention_heads" : "attention_head_dim";
        List<Integer> heads = c.getIntPerBlock(headsKey, n, 8);
        int groups = c.getPositiveInt("norm_num_groups", 32);
        for (int i = 0; i < n; i++) {
            int ch = channels.get(i);
            if (ch % groups != 0) {
                throw c.invalid("block_out_channels[" + i + "] = " + ch + " is not divisible into " + groups + " groups");
            }
            if (ch % heads.get(i) != 0) {
                throw c.invalid(ch + " channels of block " + i + " are not divisible into " + heads.get(i) + " heads");
            }
        }
        int kIn = c.getInt("conv_in_kernel", 3);
        int kOut = c.getInt("conv_out_kernel", 3);
        if (kIn % 2 == 0 || kOut % 2 == 0) {
            throw c.invalid("conv_in_kernel/conv_out_kernel must be odd, got " + kIn + "/" + kOut);
        }
        int addTimeDim = 0;
        int addInputDim = 0;
        if (TEXT_TIME.equals(c.getString("addition_embed_type", null))) {
            addTimeDim = c.requireInt("addition_time_embed_dim");
            addInputDim = c.requireInt("projection_class_embeddings_input_dim");
            if (addTimeDim <= 0 || addTimeDim % 2 != 0 || addInputDim <= TIME_IDS * addTimeDim) {
                throw c.invalid("text_time added conditioning needs an even addition_time_embed_dim and "
                        + "projection_class_embeddings_input_dim = pooled text width + " + TIME_IDS
                        + " x addition_time_embed_dim, got " + addTimeDim + " and " + addInputDim);
            }
        }
        return new UNetConfig(
                c.getInt("in_channels", 4),
                c.getInt("out_channels", 4),
                c.getInt("sample_size", 64),
                channels, down, up,
                c.getIntPerBlock("layers_per_block", n, 2),
                heads,
                c.getIntPerBlock("transformer_layers_per_block", n, 1),
                c.getInt("cross_attention_dim", 1280),
                groups,
                c.getFloat("norm_eps", 1e-5f),
                c.getBoolean("flip_sin_to_cos", true),
                c.getFloat("freq_shift", 0),
                c.getBoolean("use_linear_projection", false),
                c.getInt("downsample_padding", 1),
                kIn, kOut,
                c.getInt("time_embedding_dim", channels.get(0) * 4),
                c.getBoolean("upcast_attention", false),
                addTimeDim, addInputDim);
    }

    /** True for SDXL-style UNets: pooled text embeds and time ids enter through {@code add_embedding}. */
    public boolean hasTextTimeConditioning() {
        return addTimeEmbedDim > 0;
    }

    /** Width of the pooled text embedding that {@code add_embedding} takes before the time ids (SDXL: 1280). */
    public int pooledTextDim() {
        return addEmbedInputDim - TIME_IDS * addTimeEmbedDim;
    }

    public int numBlocks() {
        return blockOutChannels.size();
    }

    /** Width of the sinusoidal timestep features (the first block's channels, as diffusers). */
    public int timeProjDim() {
        return blockOutChannels.get(0);
    }

    public boolean downHasAttention(int i) {
        return downBlockTypes.get(i).equals(CROSS_ATTN_DOWN);
    }

    public boolean upHasAttention(int i) {
        return upBlockTypes.get(i).equals(CROSS_ATTN_UP);
    }

    /** Latent sizes must divide by this: every down block but the last halves them. */
    public int downscaleFactor() {
        return 1 << (numBlocks() - 1);
    }

    /** The same UNet with another number of input channels (inpainting checkpoints take 9). */
    public UNetConfig withInChannels(int channels) {
        return new UNetConfig(channels, outChannels, sampleSize, blockOutChannels, downBlockTypes, upBlockTypes,
                layersPerBlock, attentionHeads, transformerLayersPerBlock, crossAttentionDim, normGroups, normEps,
                flipSinToCos, freqShift, useLinearProjection, downsamplePadding, convInKernel, convOutKernel, timeEmbedDim,
                upcastAttention, addTimeEmbedDim, addEmbedInputDim);
    }

    /** The same UNet with another default latent size (SD 2.x: 96 for 768-v, 64 for 512-base). */
    public UNetConfig withSampleSize(int size) {
        return new UNetConfig(inChannels, outChannels, size, blockOutChannels, downBlockTypes, upBlockTypes,
                layersPerBlock, attentionHeads, transformerLayersPerBlock, crossAttentionDim, normGroups, normEps,
                flipSinToCos, freqShift, useLinearProjection, downsamplePadding, convInKernel, convOutKernel, timeEmbedDim,
                upcastAttention, addTimeEmbedDim, addEmbedInputDim);
    }
}
