package io.jdiffusion.models.weights;

import io.jdiffusion.models.config.UNetConfig;
import io.jdiffusion.models.config.VaeConfig;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Where the original single-file (LDM / CompVis) checkpoints store each diffusers-named weight: the
 * inverse of diffusers' single-file conversion. UNet blocks are numbered by position in the LDM's flat
 * {@code input_blocks} / {@code middle_block} / {@code output_blocks} lists, the VAE's decoder levels are
 * numbered from the bottom, and the text encoder is either transformers' CLIP (SD 1.x) or OpenCLIP with
 * q, k and v stacked in one {@code in_proj} tensor (SD 2.x).
 */
public final class LdmKeyMap {
    public static final String UNET_PREFIX = "model.diffusion_model.";
    public static final String VAE_PREFIX = "first_stage_model.";
    /** transformers' CLIPTextModel inside the LDM (SD 1.x). */
    public static final String CLIP_PREFIX = "cond_stage_model.transformer.";
    /** OpenCLIP's text tower inside the LDM (SD 2.x). */
    public static final String OPEN_CLIP_PREFIX = "cond_stage_model.model.";
    /** SDXL's first text encoder (transformers' CLIP ViT-L) in the generative-models layout. */
    public static final String SDXL_CLIP_PREFIX = "conditioner.embedders.0.transformer.";
    /** SDXL's second text encoder (OpenCLIP ViT-bigG) in the generative-models layout. */
    public static final String SDXL_OPEN_CLIP_PREFIX = "conditioner.embedders.1.model.";
    /**
     * OpenCLIP's projection to the joint space, stored [width, projection] (applied as x @ P): the transpose of
     * transformers' {@code text_projection.weight}. SD 2 leaves it unused; SDXL pools through it.
     */
    public static final String OPEN_CLIP_PROJECTION = "text_projection";

    private static final Map<String, String> UNET_RESNET = Map.of(
            "norm1", "in_layers.0", "conv1", "in_layers.2", "time_emb_proj", "emb_layers.1",
            "norm2", "out_layers.0", "conv2", "out_layers.3", "conv_shortcut", "skip_connection");
    private static final Map<String, String> VAE_ATTENTION = Map.of(
            "group_norm", "norm", "to_q", "q", "to_k", "k", "to_v", "v", "to_out", "proj_out");
    private static final Map<String, String> OPEN_CLIP_LAYER = Map.of(
            "layer_norm1", "ln_1", "layer_norm2", "ln_2", "mlp.fc1", "mlp.c_fc", "mlp.fc2", "mlp.c_proj",
            "self_attn.out_proj", "attn.out_proj");

    private LdmKeyMap() {
    }

    /** The LDM name (with {@link #UNET_PREFIX}) of the UNet weight {@code name}. */
    public static String unet(String name, UNetConfig c) {
        String[] t = name.split("\\.");
        String ldm = switch (t[0]) {
            case "time_embedding" -> "time_embed." + (t[1].equals("linear_1") ? "0" : t[1].equals("linear_2") ? "2" : bad(name))
                    + "." + tail(t, 2);
            case "add_embedding" -> "label_emb.0." + (t[1].equals("linear_1") ? "0" : t[1].equals("linear_2") ? "2" : bad(name))
                    + "." + tail(t, 2);
            case "conv_in" -> "input_blocks.0.0." + tail(t, 1);
            case "conv_norm_out" -> "out.0." + tail(t, 1);
            case "conv_out" -> "out.2." + tail(t, 1);
            case "down_blocks" -> {
                int i = Integer.parseInt(t[1]);
                int first = 1;
                for (int k = 0; k < i; k++) {
                    first += c.layersPerBlock().get(k) + 1;
                }
                yield switch (t[2]) {
                    case "resnets" -> "input_blocks." + (first + Integer.parseInt(t[3])) + ".0." + unetResnet(t, 4, name);
                    case "attentions" -> "input_blocks." + (first + Integer.parseInt(t[3])) + ".1." + tail(t, 4);
                    case "downsamplers" -> "input_blocks." + (first + c.layersPerBlock().get(i)) + ".0.op." + tail(t, 5);
                    default -> bad(name);
                };
            }
            case "mid_block" -> switch (t[1]) {
                case "attentions" -> "middle_block.1." + tail(t, 3);
                case "resnets" -> "middle_block." + (2 * Integer.parseInt(t[2])) + "." + unetResnet(t, 3, name);
                default -> bad(name);
            };
            case "up_blocks" -> {
                int i = Integer.parseInt(t[1]);
                int n = c.numBlocks();
                int first = 0;
                for (int k = 0; k < i; k++) {
                    first += c.layersPerBlock().get(n - 1 - k) + 1;
                }
                int layers = c.layersPerBlock().get(n - 1 - i) + 1;
                yield switch (t[2]) {
                    case "resnets" -> "output_blocks." + (first + Integer.parseInt(t[3])) + ".0." + unetResnet(t, 4, name);
                    case "attentions" -> "output_blocks." + (first + Integer.parseInt(t[3])) + ".1." + tail(t, 4);
                    case "upsamplers" -> "output_blocks." + (first + layers - 1) + "." + (c.upHasAttention(i) ? 2 : 1)
                            + "." + tail(t, 4);
                    default -> bad(name);
                };
            }
            default -> bad(name);
        };
        return UNET_PREFIX + ldm;
    }

    private static String unetResnet(String[] t, int from, String name) {
        String layer = UNET_RESNET.get(t[from]);
        return layer == null ? bad(name) : layer + "." + tail(t, from + 1);
    }

    /** The LDM name (with {@link #VAE_PREFIX}) of the VAE weight {@code name}. */
    public static String vae(String name, VaeConfig c) {
        String[] t = name.split("\\.");
        if (t[0].equals("quant_conv") || t[0].equals("post_quant_conv")) {
            return VAE_PREFIX + name;
        }
        if (!t[0].equals("encoder") && !t[0].equals("decoder")) {
            return bad(name);
        }
        String rest = switch (t[1]) {
            case "conv_in", "conv_out" -> tail(t, 1);
            case "conv_norm_out" -> "norm_out." + tail(t, 2);
            case "down_blocks" -> "down." + t[2] + "." + switch (t[3]) {
                case "resnets" -> "block." + t[4] + "." + vaeResnet(t, 5);
                case "downsamplers" -> "downsample." + tail(t, 5);
                default -> bad(name);
            };
            case "up_blocks" -> "up." + (c.numBlocks() - 1 - Integer.parseInt(t[2])) + "." + switch (t[3]) {
                case "resnets" -> "block." + t[4] + "." + vaeResnet(t, 5);
                case "upsamplers" -> "upsample." + tail(t, 5);
                default -> bad(name);
            };
            case "mid_block" -> switch (t[2]) {
                case "resnets" -> "mid.block_" + (Integer.parseInt(t[3]) + 1) + "." + vaeResnet(t, 4);
                case "attentions" -> {
                    String layer = VAE_ATTENTION.get(t[4]);
                    int next = t[4].equals("to_out") ? 6 : 5; // to_out.0.weight -> proj_out.weight
                    yield layer == null ? bad(name) : "mid.attn_1." + layer + "." + tail(t, next);
                }
                default -> bad(name);
            };
            default -> bad(name);
        };
        return VAE_PREFIX + t[0] + "." + rest;
    }

    private static String vaeResnet(String[] t, int from) {
        return (t[from].equals("conv_shortcut") ? "nin_shortcut" : t[from]) + "." + tail(t, from + 1);
    }

    /**
     * Where an SD 1.x checkpoint stores the transformers CLIP weight {@code name}: under
     * {@code text_model.} as transformers 4 saves it, or without it as some old files do.
     */
    public static List<StoredKey> clip(String name) {
        return clip(name, CLIP_PREFIX);
    }

    /** As {@link #clip(String)} under another prefix (SDXL: {@link #SDXL_CLIP_PREFIX}). */
    public static List<StoredKey> clip(String name, String prefix) {
        return List.of(StoredKey.whole(prefix + "text_model." + name), StoredKey.whole(prefix + name));
    }

    /** Where an SD 2.x checkpoint stores the transformers-named weight {@code name} of its OpenCLIP text tower. */
    public static StoredKey openClip(String name, int hiddenSize) {
        return openClip(name, hiddenSize, OPEN_CLIP_PREFIX);
    }

    /**
     * As {@link #openClip(String, int)} under another prefix (SDXL: {@link #SDXL_OPEN_CLIP_PREFIX}); the
     * projection maps to {@link #OPEN_CLIP_PROJECTION}, stored transposed.
     */
    public static StoredKey openClip(String name, int hiddenSize, String p) {
        switch (name) {
            case "text_projection.weight":
                return StoredKey.whole(p + OPEN_CLIP_PROJECTION);
            case "embeddings.token_embedding.weight":
                return StoredKey.whole(p + "token_embedding.weight");
            case "embeddings.position_embedding.weight":
                return StoredKey.whole(p + "positional_embedding");
            case "final_layer_norm.weight", "final_layer_norm.bias":
                return StoredKey.whole(p + "ln_final." + name.substring(name.lastIndexOf('.') + 1));
            default:
                break;
        }
        String[] t = name.split("\\.");
        if (t.length < 5 || !t[0].equals("encoder") || !t[1].equals("layers")) {
            return StoredKey.whole(bad(name));
        }
        String block = p + "transformer.resblocks." + t[2] + ".";
        String layer = String.join(".", Arrays.copyOfRange(t, 3, t.length - 1));
        String param = t[t.length - 1];
        int qkv = switch (layer) {
            case "self_attn.q_proj" -> 0;
            case "self_attn.k_proj" -> 1;
            case "self_attn.v_proj" -> 2;
            default -> -1;
        };
        if (qkv >= 0) {
            long d = hiddenSize;
            return new StoredKey(block + "attn.in_proj_" + param, qkv * d, (qkv + 1) * d);
        }
        String mapped = OPEN_CLIP_LAYER.get(layer);
        return StoredKey.whole(mapped == null ? bad(name) : block + mapped + "." + param);
    }

    /** The OpenCLIP resblock index of a stored name, or -1. */
    public static int openClipLayer(String storedName) {
        return openClipLayer(storedName, OPEN_CLIP_PREFIX);
    }

    /** The OpenCLIP resblock index of a stored name under {@code prefix}, or -1. */
    public static int openClipLayer(String storedName, String prefix) {
        String marker = prefix + "transformer.resblocks.";
        if (!storedName.startsWith(marker)) {
            return -1;
        }
        String rest = storedName.substring(marker.length());
        int dot = rest.indexOf('.');
        try {
            return Integer.parseInt(dot < 0 ? rest : rest.substring(0, dot));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static String tail(String[] t, int from) {
        if (from >= t.length) {
            throw new IllegalArgumentException("weight name too short: " + String.join(".", t));
        }
        return String.join(".", Arrays.copyOfRange(t, from, t.length));
    }

    private static String bad(String name) {
        throw new IllegalArgumentException("no LDM name for weight '" + name + "'");
    }
}
