package io.jdiffusion.models.sd;

import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.config.ModelLoadException;
import io.jdiffusion.models.weights.LdmKeyMap;
import io.jdiffusion.models.weights.SafetensorsWeights;

import java.nio.file.Path;
import java.util.List;
import java.util.function.IntUnaryOperator;

/**
 * The model families a single-file checkpoint can hold: how each is recognised from its tensors, its bundled
 * configs and the conventions the tensors do not record (head counts), the tokenizer folders it needs and where those are usually found (Hugging Face repositories whose
 * tokenizer is the family's). A new family (SDXL: two text towers, {@code tokenizer/} and {@code tokenizer_2/})
 * is one more constant and one more case in {@link #detect}.
 */
public enum CheckpointFamily {
    /** SD 1.x: transformers' CLIP ViT-L/14 text tower, cross-attention width 768, epsilon prediction. */
    SD1("SD 1.x", ModelConfigs.SD15, channels -> 8, SingleFileCheckpoint.TextTower.CLIP, "epsilon", "<|endoftext|>",
            List.of(new HubSource("stable-diffusion-v1-5/stable-diffusion-v1-5", "tokenizer"),
                    new HubSource("runwayml/stable-diffusion-v1-5", "tokenizer"),
                    new HubSource("CompVis/stable-diffusion-v1-4", "tokenizer"),
                    new HubSource("openai/clip-vit-large-patch14", ""))),
    /**
     * SD 2.x: OpenCLIP ViT-H/14 text tower, cross-attention width 1024. The 768-v checkpoints (2.0, 2.1)
     * predict v, the 512-base ones epsilon; the weights do not say which (see {@link PredictionTypeChoice}).
     * Its tokenizer pads with "!", unlike SD 1.x's, so only SD 2 repositories are searched.
     */
    SD2("SD 2.x", ModelConfigs.SD21, channels -> channels / 64, SingleFileCheckpoint.TextTower.OPEN_CLIP, "v_prediction", "!",
            List.of(new HubSource("stabilityai/stable-diffusion-2-1", "tokenizer"),
                    new HubSource("stabilityai/stable-diffusion-2-1-base", "tokenizer"),
                    new HubSource("stabilityai/stable-diffusion-2", "tokenizer"),
                    new HubSource("stabilityai/stable-diffusion-2-base", "tokenizer")));

    /** The stored name whose shape gives the UNet's cross-attention width: [320, width] for SD 1.x and 2.x. */
    static final String CROSS_ATTENTION_KEY =
            LdmKeyMap.UNET_PREFIX + "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight";

    private final String label;
    private final String bundledDir;
    private final IntUnaryOperator unetHeads;
    private final SingleFileCheckpoint.TextTower textTower;
    private final String defaultPredictionType;
    private final String padToken;
    private final List<HubSource> hubSources;

    CheckpointFamily(String label, String bundledDir, IntUnaryOperator unetHeads, SingleFileCheckpoint.TextTower textTower,
                     String defaultPredictionType, String padToken, List<HubSource> hubSources) {
        this.label = label;
        this.bundledDir = bundledDir;
        this.unetHeads = unetHeads;
        this.textTower = textTower;
        this.defaultPredictionType = defaultPredictionType;
        this.padToken = padToken;
        this.hubSources = hubSources;
    }

    /**
     * A Hugging Face repository holding this family's tokenizer files in {@code subfolder} ("" for the root,
     * as the CLIP repositories keep them).
     */
    public record HubSource(String repoId, String subfolder) {
        /** The repository's folder in a hub cache: {@code models--org--name}. */
        String cacheFolderName() {
            return "models--" + repoId.replace("/", "--");
        }
    }

    /**
     * The family of a single-file checkpoint, from the UNet's cross-attention width (the shape of its first
     * cross-attention key projection) and the text tower stored beside it.
     *
     * @throws ModelLoadException naming what the file holds when it is no family jdiffusion runs
     */
    static CheckpointFamily detect(SafetensorsWeights w, Path file) {
        if (w.names().stream().anyMatch(n -> n.startsWith("conditioner.embedders."))) {
            throw new ModelLoadException(file + " is an SDXL checkpoint (conditioner.embedders.*); jdiffusion runs "
                    + "Stable Diffusion 1.x and 2.x only");
        }
        if (w.names().stream().noneMatch(n -> n.startsWith(LdmKeyMap.UNET_PREFIX))) {
            throw new ModelLoadException(file + " is not a Stable Diffusion single-file checkpoint: it has no "
                    + LdmKeyMap.UNET_PREFIX + "* tensors. For a diffusers folder, name the folder; a component file on "
                    + "its own (e.g. unet/diffusion_pytorch_model.safetensors) cannot be loaded alone.");
        }
        SingleFileCheckpoint.TextTower tower = SingleFileCheckpoint.textTower(w, file);
        CheckpointFamily byTower = tower == SingleFileCheckpoint.TextTower.CLIP ? SD1 : SD2;
        Tensor key = w.tensor(CROSS_ATTENTION_KEY);
        if (key == null || key.shape().rank() != 2) {
            return byTower; // an unusual UNet: the weight check then names what does not fit
        }
        long width = key.shape().dim(1);
        CheckpointFamily byShape = width == 768 ? SD1 : width == 1024 ? SD2 : null;
        if (byShape == null) {
            return byTower; // no family's width: the weight check against the tower's family names what does not fit
        }
        if (byShape != byTower) {
            throw new ModelLoadException(file + ": its UNet attends to text of width " + width + " ("
                    + CROSS_ATTENTION_KEY + " is " + key.shape() + ") but it stores " + (tower == SingleFileCheckpoint.TextTower.CLIP
                    ? "a CLIP ViT-L text tower (width 768, SD 1.x)" : "an OpenCLIP text tower (width 1024, SD 2.x)")
                    + "; jdiffusion runs SD 1.x (768) and SD 2.x (1024) checkpoints");
        }
        return byShape;
    }

    /** "SD 1.x" or "SD 2.x". */
    public String label() {
        return label;
    }

    /** The bundled configs' folder: the family's reference model, for everything the tensors do not show. */
    String bundledDir() {
        return bundledDir;
    }

    /**
     * Attention heads of a UNet level with {@code channels} channels: head counts are not in the weights, so
     * they follow the family's convention (SD 1.x: 8 heads; SD 2.x: 64 channels per head).
     */
    int unetHeads(int channels) {
        return Math.max(1, unetHeads.applyAsInt(channels));
    }

    /** Text-encoder heads: CLIP and OpenCLIP text towers use 64 channels per head. */
    int textHeads(int hiddenSize) {
        return Math.max(1, hiddenSize / 64);
    }

    SingleFileCheckpoint.TextTower textTower() {
        return textTower;
    }

    /** The prediction type assumed when neither the user nor a file beside the checkpoint says. */
    String defaultPredictionType() {
        return defaultPredictionType;
    }

    /** The pad token of the family's tokenizer; a tokenizer found by searching must have it. */
    String padToken() {
        return padToken;
    }

    /** The tokenizer folders a config folder holds for this family. */
    List<String> tokenizerFolders() {
        return List.of("tokenizer");
    }

    /** The repositories searched for the tokenizer in Hugging Face caches, best first. */
    public List<HubSource> hubSources() {
        return hubSources;
    }
}
