package io.jdiffusion.models.config;

import io.jdiffusion.core.OneLine;

import java.util.List;

/**
 * The architecture of a diffusers {@code AutoencoderKL}, from {@code vae/config.json}.
 *
 * @param forceUpcast diffusers' {@code force_upcast} (default true): SDXL's VAE overflows F16, so SDXL pipelines
 *                    run it in F32 even when the rest runs in F16 (the fp16-fix VAE sets it false); SD 1/2
 *                    pipelines ignore it
 */
public record VaeConfig(int inChannels, int outChannels, int latentChannels, List<Integer> blockOutChannels,
                        int layersPerBlock, int normGroups, float scalingFactor, int sampleSize,
                        boolean midBlockAttention, boolean useQuantConv, boolean usePostQuantConv, boolean forceUpcast) {
    /** diffusers builds every VAE norm with this epsilon, whatever the config says. */
    public static final float NORM_EPS = 1e-6f;

    public VaeConfig {
        blockOutChannels = List.copyOf(blockOutChannels);
    }

    public static VaeConfig fromJson(ConfigJson c) {
        c.requireUnsetOr("_class_name", "jdiffusion reads AutoencoderKL", "AutoencoderKL");
        c.requireUnsetOr("act_fn", "jdiffusion runs SD VAEs", "silu");
        c.requireUnsetOr("shift_factor", "latent shift (SD3/Flux VAEs) is not implemented", 0);
        c.requireUnsetOr("latents_mean", "per-channel latent statistics (SDXL-refiner style) are not implemented");
        c.requireUnsetOr("latents_std", "per-channel latent statistics (SDXL-refiner style) are not implemented");
        List<Integer> channels = c.requireIntList("block_out_channels");
        int n = channels.size();
        checkTypes(c, "down_block_types", "DownEncoderBlock2D", n);
        checkTypes(c, "up_block_types", "UpDecoderBlock2D", n);
        int groups = c.getPositiveInt("norm_num_groups", 32);
        for (int ch : channels) {
            if (ch % groups != 0) {
                throw c.invalid(ch + " channels are not divisible into " + groups + " groups");
            }
        }
        return new VaeConfig(
                c.getInt("in_channels", 3),
                c.getInt("out_channels", 3),
                c.getInt("latent_channels", 4),
                channels,
                c.getInt("layers_per_block", 1),
                groups,
                c.getFloat("scaling_factor", 0.18215f),
                c.getInt("sample_size", 32),
                c.getBoolean("mid_block_add_attention", true),
                c.getBoolean("use_quant_conv", true),
                c.getBoolean("use_post_quant_conv", true),
                c.getBoolean("force_upcast", true));
    }

    private static void checkTypes(ConfigJson c, String key, String only, int n) {
        if (!c.has(key)) {
            return; // diffusers' default is a single block of that type; the channel count decides the number
        }
        List<String> types = c.requireStringList(key);
        if (types.size() != n) {
            throw c.invalid(n + " block_out_channels but " + types.size() + " " + key);
        }
        for (String t : types) {
            if (!t.equals(only)) {
                throw c.invalid(key + " entry '" + OneLine.of(t) + "' is not supported (only " + only + ")");
            }
        }
    }

    public int numBlocks() {
        return blockOutChannels.size();
    }

    /** Pixels per latent along each side: 2^(blocks-1), 8 for SD, 2 for the tiny test model. */
    public int downscaleFactor() {
        return 1 << (numBlocks() - 1);
    }
}
