package io.jdiffusion.models.sd;

import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.clip.ClipTextEncoder;
import io.jdiffusion.models.config.ClipTextConfig;
import io.jdiffusion.models.config.ModelLoadException;
import io.jdiffusion.models.config.UNetConfig;
import io.jdiffusion.models.config.VaeConfig;
import io.jdiffusion.models.weights.LdmKeyMap;
import io.jdiffusion.models.weights.MappedWeights;
import io.jdiffusion.models.weights.SafetensorsWeights;
import io.jdiffusion.models.weights.StoredKey;
import io.jdiffusion.models.weights.TransposedWeights;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * The original single-file checkpoint layout ({@code model.diffusion_model.*}, {@code first_stage_model.*},
 * {@code cond_stage_model.*}, SDXL's {@code conditioner.embedders.0/1.*}): which family a file is, the architecture its tensor shapes imply, and each
 * network's view of the file. Tensors outside the three networks (the DDPM schedule buffers, EMA copies)
 * are ignored.
 */
final class SingleFileCheckpoint {
    /** The text tower a checkpoint carries. */
    enum TextTower {
        /** transformers' CLIPTextModel (ViT-L/14), SD 1.x. */
        CLIP,
        /** OpenCLIP's text transformer (ViT-H/14), SD 2.x. */
        OPEN_CLIP,
        /** SDXL: CLIP ViT-L ({@code conditioner.embedders.0}) and OpenCLIP ViT-bigG ({@code conditioner.embedders.1}). */
        SDXL
    }

    private SingleFileCheckpoint() {
    }

    static TextTower detect(SafetensorsWeights w, Path file) {
        boolean unet = w.names().stream().anyMatch(n -> n.startsWith(LdmKeyMap.UNET_PREFIX));
        boolean sdxl = w.names().stream().anyMatch(n -> n.startsWith("conditioner.embedders."));
        if (sdxl) {
            return detectSdxl(w, file);
        }
        if (!unet) {
            throw new ModelLoadException(file + " is not a Stable Diffusion single-file checkpoint: it has no "
                    + LdmKeyMap.UNET_PREFIX + "* tensors. For a diffusers folder, name the folder; a component file on "
                    + "its own (e.g. unet/diffusion_pytorch_model.safetensors) cannot be loaded alone.");
        }
        if (w.contains(LdmKeyMap.CLIP_PREFIX + "text_model.embeddings.token_embedding.weight")
                || w.contains(LdmKeyMap.CLIP_PREFIX + "embeddings.token_embedding.weight")) {
            return TextTower.CLIP;
        }
        if (w.contains(LdmKeyMap.OPEN_CLIP_PREFIX + "token_embedding.weight")) {
            return TextTower.OPEN_CLIP;
        }
        throw new ModelLoadException(file + " holds a UNet but no text encoder (neither " + LdmKeyMap.CLIP_PREFIX
                + "* nor " + LdmKeyMap.OPEN_CLIP_PREFIX + "* tensors); jdiffusion needs a full SD 1.x/2.x checkpoint");
    }

    private static TextTower detectSdxl(SafetensorsWeights w, Path file) {
        boolean clip = w.names().stream().anyMatch(n -> n.startsWith(LdmKeyMap.SDXL_CLIP_PREFIX));
        boolean openClip = w.names().stream().anyMatch(n -> n.startsWith(LdmKeyMap.SDXL_OPEN_CLIP_PREFIX));
        boolean openClipFirst = w.names().stream().anyMatch(n -> n.startsWith("conditioner.embedders.0.model."));
        if (openClipFirst && !openClip) {
            throw new ModelLoadException(file + " is an SDXL refiner checkpoint (OpenCLIP ViT-bigG alone in "
                    + "conditioner.embedders.0): SDXL refiner is not supported (jdiffusion runs the SDXL base model)");
        }
        if (!clip || !openClip) {
            throw new ModelLoadException(file + " is an SDXL checkpoint without its " + (clip ? "second" : "first")
                    + " text encoder (no " + (clip ? LdmKeyMap.SDXL_OPEN_CLIP_PREFIX : LdmKeyMap.SDXL_CLIP_PREFIX)
                    + "* tensors): SDXL needs both text encoders");
        }
        return TextTower.SDXL;
    }

    /**
     * The architecture implied by the tensors: SD 1.5's for a CLIP text tower, SD 2.1's for OpenCLIP (which
     * uses the penultimate of the stored layers), with the UNet's input channels read from conv_in so
     * inpainting checkpoints (9 channels) load too.
     */
    static ModelConfigs inferConfigs(SafetensorsWeights w, TextTower tower, Path file) {
        ModelConfigs base = switch (tower) {
            case CLIP -> ModelConfigs.sd15();
            case OPEN_CLIP -> ModelConfigs.sd21();
            case SDXL -> ModelConfigs.sdxl();
        };
        if (tower == TextTower.OPEN_CLIP) {
            int layers = 0;
            for (String n : w.names()) {
                layers = Math.max(layers, LdmKeyMap.openClipLayer(n) + 1);
            }
            if (layers < 2) {
                throw new ModelLoadException(file + ": OpenCLIP text tower has " + layers + " layers");
            }
            ClipTextConfig text = base.textEncoder().withNumLayers(layers).withSkipLastLayers(1);
            base = base.withTextEncoder(text);
        }
        Tensor convIn = w.tensor(LdmKeyMap.UNET_PREFIX + "input_blocks.0.0.weight");
        if (convIn != null && convIn.shape().rank() == 4) {
            base = base.withUNet(base.unet().withInChannels(convIn.shape().size(1)));
        }
        return new ModelConfigs(base.textEncoder(), base.textEncoder2(), base.unet(), base.vae(), base.scheduler(),
                base.source() + " (architecture inferred from the tensors of " + file + ")");
    }

    /** What to supply when a bare single file is asked for its tokenizer. */
    static String noTokenizer(Path file, TextTower tower) {
        return file + " is a single-file checkpoint, which holds no tokenizer. Pass --config DIR naming a "
                + "diffusers-layout folder with tokenizer/vocab.json and tokenizer/merges.txt"
                + (tower == TextTower.SDXL ? " (and tokenizer_2/ likewise)" : "")
                + " (and the component configs), e.g. a copy of the " + switch (tower) {
                    case CLIP -> "stable-diffusion-v1-5";
                    case OPEN_CLIP -> "stable-diffusion-2-1";
                    case SDXL -> "stable-diffusion-xl-base-1.0";
                } + " repository without its weight files.";
    }

    static MappedWeights unetSource(SafetensorsWeights w, UNetConfig c) {
        return new MappedWeights(w, name -> List.of(StoredKey.whole(LdmKeyMap.unet(name, c))),
                n -> n.startsWith(LdmKeyMap.UNET_PREFIX), n -> false);
    }

    static MappedWeights vaeSource(SafetensorsWeights w, VaeConfig c) {
        return new MappedWeights(w, name -> List.of(StoredKey.whole(LdmKeyMap.vae(name, c))),
                n -> n.startsWith(LdmKeyMap.VAE_PREFIX),
                n -> n.startsWith(LdmKeyMap.VAE_PREFIX + "loss.")); // training-only discriminator/loss weights
    }

    /** SDXL's second text encoder (OpenCLIP ViT-bigG, every layer, with its projection stored transposed). */
    static TransposedWeights sdxlText2Source(SafetensorsWeights w, ClipTextConfig c) {
        String p = LdmKeyMap.SDXL_OPEN_CLIP_PREFIX;
        MappedWeights mapped = new MappedWeights(w, name -> List.of(LdmKeyMap.openClip(name, c.hiddenSize(), p)),
                n -> n.startsWith(p), n -> n.equals(p + "logit_scale") || n.equals(p + "attn_mask"));
        return new TransposedWeights(mapped, Set.of(ClipTextEncoder.PROJECTION + ".weight"));
    }

    static MappedWeights textSource(SafetensorsWeights w, TextTower tower, ClipTextConfig c) {
        if (tower == TextTower.SDXL) {
            String p = LdmKeyMap.SDXL_CLIP_PREFIX;
            return new MappedWeights(w, name -> LdmKeyMap.clip(name, p), n -> n.startsWith(p),
                    n -> n.endsWith("position_ids"));
        }
        if (tower == TextTower.CLIP) {
            return new MappedWeights(w, LdmKeyMap::clip, n -> n.startsWith(LdmKeyMap.CLIP_PREFIX),
                    n -> n.endsWith("position_ids"));
        }
        String p = LdmKeyMap.OPEN_CLIP_PREFIX;
        return new MappedWeights(w, name -> List.of(LdmKeyMap.openClip(name, c.hiddenSize())),
                n -> n.startsWith(p),
                // the projection to CLIP's joint space, the contrastive temperature and an image tower are not
                // part of the text encoder SD uses; layers past the configured count are the ones SD 2 skips
                n -> n.equals(p + "logit_scale") || n.equals(p + "text_projection") || n.equals(p + "attn_mask")
                        || n.startsWith(p + "visual.") || LdmKeyMap.openClipLayer(n) >= c.numLayers());
    }
}
