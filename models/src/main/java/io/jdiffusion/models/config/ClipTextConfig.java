package io.jdiffusion.models.config;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.core.OneLine;

/**
 * The architecture of a CLIP text tower, from a transformers {@code text_encoder/config.json}.
 *
 * @param skipLastLayers how many final transformer layers SD leaves out before the final LayerNorm: 0 for
 *                       SD 1.x (last_hidden_state); 1 for SD 2.x when the config lists all 24 OpenCLIP layers
 *                       (SD 2 uses the penultimate layer). Not a transformers key: diffusers' SD 2 configs
 *                       already drop the last layer (23 layers, skip 0), single-file loading sets it from the tensors.
 * @param projectionDim  width of {@code text_projection} (no bias) of transformers' {@code CLIPTextModelWithProjection}
 *                       (SDXL's second encoder: 1280), which gives the pooled text embedding; 0 for {@code CLIPTextModel}
 */
public record ClipTextConfig(int vocabSize, int hiddenSize, int numLayers, int numHeads, int intermediateSize,
                             Activation activation, float layerNormEps, int maxPositions, int skipLastLayers,
                             int projectionDim) {
    /** transformers' class of a text tower with {@code text_projection}, as {@code architectures} names it. */
    public static final String WITH_PROJECTION = "CLIPTextModelWithProjection";

    public ClipTextConfig {
        if (vocabSize < 1 || hiddenSize < 1 || numLayers < 1 || numHeads < 1 || intermediateSize < 1 || maxPositions < 1
                || projectionDim < 0) {
            throw new ModelLoadException("text encoder: sizes must be positive, got vocab_size " + vocabSize + ", hidden_size "
                    + hiddenSize + ", num_hidden_layers " + numLayers + ", num_attention_heads " + numHeads
                    + ", intermediate_size " + intermediateSize + ", max_position_embeddings " + maxPositions
                    + ", projection_dim " + projectionDim);
        }
        if (hiddenSize % numHeads != 0) {
            throw new ModelLoadException("text encoder: hidden size " + hiddenSize + " is not divisible by "
                    + numHeads + " attention heads");
        }
        if (skipLastLayers < 0 || skipLastLayers >= numLayers) {
            throw new ModelLoadException("text encoder: cannot skip " + skipLastLayers + " of " + numLayers + " layers");
        }
    }

    public static ClipTextConfig fromJson(ConfigJson c) {
        c.requireUnsetOr("model_type", "jdiffusion reads CLIP text towers", "clip_text_model", "clip");
        String act = c.getString("hidden_act", "quick_gelu");
        Activation activation = switch (act) {
            case "quick_gelu" -> Activation.QUICK_GELU;
            case "gelu" -> Activation.GELU;
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast" -> Activation.GELU_TANH;
            default -> throw c.invalid("hidden_act '" + OneLine.of(act) + "' is not supported (quick_gelu, gelu, gelu_new)");
        };
        try {
            return fromValues(c, activation);
        } catch (ModelLoadException e) {
            throw c.invalid(e.getMessage()); // the record's checks, with the file named
        }
    }

    private static ClipTextConfig fromValues(ConfigJson c, Activation activation) {
        return new ClipTextConfig(
                c.getInt("vocab_size", 49408),
                c.getInt("hidden_size", 512),
                c.getInt("num_hidden_layers", 12),
                c.getInt("num_attention_heads", 8),
                c.getInt("intermediate_size", 2048),
                activation,
                c.getFloat("layer_norm_eps", 1e-5f),
                c.getInt("max_position_embeddings", 77),
                0,
                withProjection(c) ? c.getInt("projection_dim", 512) : 0);
    }

    private static boolean withProjection(ConfigJson c) {
        JsonNode architectures = c.get("architectures");
        if (architectures == null || !architectures.isArray()) {
            return false;
        }
        for (JsonNode a : architectures) {
            if (WITH_PROJECTION.equals(a.asText())) {
                return true;
            }
        }
        return false;
    }

    /** This config running all but the last {@code n} layers. */
    public ClipTextConfig withSkipLastLayers(int n) {
        return new ClipTextConfig(vocabSize, hiddenSize, numLayers, numHeads, intermediateSize, activation,
                layerNormEps, maxPositions, n, projectionDim);
    }

    /** This config with a {@code text_projection} of width {@code n} (0: none). */
    public ClipTextConfig withProjectionDim(int n) {
        return new ClipTextConfig(vocabSize, hiddenSize, numLayers, numHeads, intermediateSize, activation,
                layerNormEps, maxPositions, skipLastLayers, n);
    }

    public ClipTextConfig withNumLayers(int n) {
        return new ClipTextConfig(vocabSize, hiddenSize, n, numHeads, intermediateSize, activation,
                layerNormEps, maxPositions, skipLastLayers, projectionDim);
    }

    public int headDim() {
        return hiddenSize / numHeads;
    }

    /** Layers the encoder runs. */
    public int usedLayers() {
        return numLayers - skipLastLayers;
    }
}
