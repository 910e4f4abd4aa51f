package io.jdiffusion.models.sd;

import io.jdiffusion.core.Shape;
import io.jdiffusion.models.config.ClipTextConfig;
import io.jdiffusion.models.config.ModelLoadException;
import io.jdiffusion.models.config.UNetConfig;
import io.jdiffusion.models.config.VaeConfig;
import io.jdiffusion.models.weights.LdmKeyMap;
import io.jdiffusion.models.weights.MappedWeights;
import io.jdiffusion.models.weights.SafetensorsWeights;
import io.jdiffusion.models.weights.StoredKey;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.List;

/**
 * The original single-file checkpoint layout ({@code model.diffusion_model.*}, {@code first_stage_model.*},
 * {@code cond_stage_model.*}): the text tower a file stores, the architecture its tensor shapes imply, and each
 * network's view of the file. Tensors outside the three networks (the DDPM schedule buffers, EMA copies)
 * are ignored.
 */
final class SingleFileCheckpoint {
    /** The text tower a checkpoint carries. */
    enum TextTower {
        /** transformers' CLIPTextModel (ViT-L/14), SD 1.x. */
        CLIP,
        /** OpenCLIP's text transformer (ViT-H/14), SD 2.x. */
        OPEN_CLIP
    }

    private SingleFileCheckpoint() {
    }

    /** The text tower stored in the checkpoint. */
    static TextTower textTower(SafetensorsWeights w, Path file) {
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

    static MappedWeights textSource(SafetensorsWeights w, TextTower tower, ClipTextConfig c) {
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
