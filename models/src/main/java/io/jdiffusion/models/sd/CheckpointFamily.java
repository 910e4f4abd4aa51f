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
    SD1("SD 1.x", ModelConfigs.SD15, channels -> 8, SingleFileCheckpoint.TextTower.CLIP, "epsilon",
            List.of(new TokenizerFolder("tokenizer", "<|endoftext|>")),
            List.of(new HubSource("stable-diffusion-v1-5/stable-diffusion-v1-5", false),
                    new HubSource("runwayml/stable-diffusion-v1-5", false),
                    new HubSource("CompVis/stable-diffusion-v1-4", false),
                    new HubSource("openai/clip-vit-large-patch14", true))),
    /**
     * SD 2.x: OpenCLIP ViT-H/14 text tower, cross-attention width 1024. The 768-v checkpoints (2.0, 2.1)
     * predict v, the 512-base ones epsilon; the weights do not say which (see {@link PredictionTypeChoice}).
     * Its tokenizer pads with "!", unlike SD 1.x's, so only SD 2 repositories are searched.
     */
    SD2("SD 2.x", ModelConfigs.SD21, channels -> channels / 64, SingleFileCheckpoint.TextTower.OPEN_CLIP, "v_prediction",
            List.of(new TokenizerFolder("tokenizer", "!")),
            List.of(new HubSource("stabilityai/stable-diffusion-2-1", false),
                    new HubSource("stabilityai/stable-diffusion-2-1-base", false),
                    new HubSource("stabilityai/stable-diffusion-2", false),
                    new HubSource("stabilityai/stable-diffusion-2-base", false))),
    /**
     * SDXL base: CLIP ViT-L and OpenCLIP ViT-bigG ({@code conditioner.embedders.0/1}), text_time conditioning;
     * the bundled SDXL base configs are used as they are (with conv_in's input channels). Two tokenizers:
     * {@code tokenizer/} pads with the end token, {@code tokenizer_2/} with "!".
     */
    SDXL("SDXL", ModelConfigs.SDXL, channels -> channels / 64, SingleFileCheckpoint.TextTower.SDXL, "epsilon",
            List.of(new TokenizerFolder("tokenizer", "<|endoftext|>"), new TokenizerFolder("tokenizer_2", "!")),
            List.of(new HubSource("stabilityai/stable-diffusion-xl-base-1.0", false)));

    /** The stored name whose shape gives the UNet's cross-attention width: [320, width] for SD 1.x and 2.x. */
    static final String CROSS_ATTENTION_KEY =
            LdmKeyMap.UNET_PREFIX + "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight";

    private final String label;
    private final String bundledDir;
    private final IntUnaryOperator unetHeads;
    private final SingleFileCheckpoint.TextTower textTower;
    private final String defaultPredictionType;
    private final List<TokenizerFolder> tokenizerFolders;
    private final List<HubSource> hubSources;

    CheckpointFamily(String label, String bundledDir, IntUnaryOperator unetHeads, SingleFileCheckpoint.TextTower textTower,
                     String defaultPredictionType, List<TokenizerFolder> tokenizerFolders, List<HubSource> hubSources) {
        this.label = label;
        this.bundledDir = bundledDir;
        this.unetHeads = unetHeads;
        this.textTower = textTower;
        this.defaultPredictionType = defaultPredictionType;
        this.tokenizerFolders = tokenizerFolders;
        this.hubSources = hubSources;
    }

    /** A tokenizer folder of a diffusers layout and the pad token the family's tokenizer there uses. */
    record TokenizerFolder(String name, String padToken) {
    }

    /**
     * A Hugging Face repository holding this family's tokenizer folders, or (a CLIP repository, for a family
     * with one tokenizer) the tokenizer files at its root.
     */
    public record HubSource(String repoId, boolean filesAtRoot) {
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
        if (w.names().stream().noneMatch(n -> n.startsWith(LdmKeyMap.UNET_PREFIX))) {
            throw new ModelLoadException(file + " is not a Stable Diffusion single-file checkpoint: it has no "
                    + LdmKeyMap.UNET_PREFIX + "* tensors. For a diffusers folder, name the folder; a component file on "
                    + "its own (e.g. unet/diffusion_pytorch_model.safetensors) cannot be loaded alone.");
        }
        SingleFileCheckpoint.TextTower tower = SingleFileCheckpoint.textTower(w, file);
        if (tower == SingleFileCheckpoint.TextTower.SDXL) {
            return SDXL;
        }
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

    /** "SD 1.x", "SD 2.x" or "SDXL". */
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

    /** The tokenizer folders this family needs, with the pad token a folder found by searching must have. */
    List<TokenizerFolder> tokenizerFolders() {
        return tokenizerFolders;
    }

    /** The repositories searched for the tokenizer in Hugging Face caches, best first. */
    public List<HubSource> hubSources() {
        return hubSources;
    }
}
