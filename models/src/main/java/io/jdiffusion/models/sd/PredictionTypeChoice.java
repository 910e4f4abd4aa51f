package io.jdiffusion.models.sd;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.jdiffusion.models.config.ModelLoadException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * What a single-file checkpoint's UNet predicts (epsilon or v), which its weights do not record, and where
 * that was learned: the user's {@code --prediction-type}, else a config beside the checkpoint as A1111 reads
 * it ({@code NAME.yaml}, the original LDM inference config, whose {@code model.params.parameterization: "v"}
 * marks v-prediction and whose absence means epsilon; or {@code NAME.json}, the same as JSON or a diffusers
 * scheduler config with {@code prediction_type}), else the family's usual one.
 *
 * @param source how the value was chosen, for the model's description
 */
public record PredictionTypeChoice(String predictionType, String source) {
    public static final String EPSILON = "epsilon";
    public static final String V_PREDICTION = "v_prediction";

    /**
     * A user-given prediction type: epsilon (eps) or v_prediction (v).
     *
     * @throws IllegalArgumentException for anything else
     */
    public static String normalize(String value) {
        return switch (value.strip().toLowerCase(Locale.ROOT)) {
            case "epsilon", "eps" -> EPSILON;
            case "v_prediction", "v-prediction", "v" -> V_PREDICTION;
            default -> throw new IllegalArgumentException("unknown prediction type '" + value
                    + "' (use epsilon or v_prediction)");
        };
    }

    static PredictionTypeChoice choose(String requested, Path checkpoint, CheckpointFamily family) {
        if (requested != null) {
            return new PredictionTypeChoice(normalize(requested), "--prediction-type");
        }
        String stem = stem(checkpoint);
        for (String ext : new String[]{".yaml", ".yml", ".json"}) {
            Path sidecar = checkpoint.resolveSibling(stem + ext);
            if (Files.isRegularFile(sidecar)) {
                return new PredictionTypeChoice(fromConfig(sidecar), "from " + sidecar.getFileName() + " beside it");
            }
        }
        String assumed = family.defaultPredictionType();
        String hint = family == CheckpointFamily.SD2
                ? "assumed for SD 2.x 768-v; a 512-base checkpoint needs --prediction-type epsilon or a " + stem + ".yaml beside it"
                : "assumed for " + family.label() + "; pass --prediction-type or put a " + stem + ".yaml beside it to change it";
        return new PredictionTypeChoice(assumed, hint);
    }

    /** The prediction type a sidecar config declares; an LDM config without {@code parameterization} means epsilon. */
    static String fromConfig(Path file) {
        JsonNode root;
        try {
            ObjectMapper mapper = file.getFileName().toString().endsWith(".json") ? new ObjectMapper() : new YAMLMapper();
            root = mapper.readTree(Files.readString(file));
        } catch (JacksonException e) {
            throw new ModelLoadException(file + ": not valid " + (file.toString().endsWith(".json") ? "JSON" : "YAML")
                    + " (" + e.getOriginalMessage() + ")");
        } catch (IOException e) {
            throw new ModelLoadException(file + ": cannot read: " + e.getMessage(), e);
        }
        if (root != null && root.hasNonNull("prediction_type")) {
            return normalizeFrom(file, root.get("prediction_type").asText());
        }
        JsonNode params = root == null ? null : root.path("model").path("params");
        if (params == null || !params.isObject()) {
            throw new ModelLoadException(file + ": says no prediction type (neither the LDM config's "
                    + "model.params.parameterization nor a 'prediction_type')");
        }
        JsonNode parameterization = params.get("parameterization");
        return parameterization == null || parameterization.isNull() ? EPSILON : normalizeFrom(file, parameterization.asText());
    }

    private static String normalizeFrom(Path file, String value) {
        try {
            return normalize(value);
        } catch (IllegalArgumentException e) {
            throw new ModelLoadException(file + ": " + e.getMessage());
        }
    }

    private static String stem(Path file) {
        String name = file.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return dot > 0 ? name.substring(0, dot) : name;
    }

    /** For the description: "v_prediction (from v2-1_768.yaml beside it)". */
    @Override
    public String toString() {
        return predictionType + " (" + source + ")";
    }
}
