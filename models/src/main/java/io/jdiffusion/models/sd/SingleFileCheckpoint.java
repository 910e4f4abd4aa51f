package io.jdiffusion.models.sd;

import io.jdiffusion.core.Shape;
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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The original single-file checkpoint layout ({@code model.diffusion_model.*}, {@code first_stage_model.*},
 * {@code cond_stage_model.*}, SDXL's {@code conditioner.embedders.0/1.*}): the text towers a file stores, its
 * tensor shapes (see {@link LdmArchitecture}), and each
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

    /** The text tower(s) stored in the checkpoint. */
    static TextTower textTower(SafetensorsWeights w, Path file) {
        if (w.names().stream().anyMatch(n -> n.startsWith("conditioner.embedders."))) {
            return detectSdxl(w, file);
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

    /** Every stored tensor's name and shape, what {@link LdmArchitecture} reads the architecture from. */
    static Map<String, Shape> shapes(SafetensorsWeights w) {
        Map<String, Shape> shapes = new HashMap<>();
        for (String name : w.names()) {
            shapes.put(name, w.tensor(name).shape());
        }
        return shapes;
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
