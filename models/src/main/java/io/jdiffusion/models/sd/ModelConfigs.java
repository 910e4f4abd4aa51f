package io.jdiffusion.models.sd;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdiffusion.models.config.ClipTextConfig;
import io.jdiffusion.models.config.ConfigJson;
import io.jdiffusion.models.config.ModelLoadException;
import io.jdiffusion.models.config.UNetConfig;
import io.jdiffusion.models.config.VaeConfig;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The architecture of a whole pipeline: the three networks' configs and the scheduler config, read from a
 * diffusers-layout folder or taken from the bundled canonical SD 1.5 / SD 2.1 configs.
 *
 * @param source where the configs came from, for messages
 */
public record ModelConfigs(ClipTextConfig textEncoder, UNetConfig unet, VaeConfig vae, ObjectNode scheduler,
                           String source) {
    static final String TEXT_ENCODER = "text_encoder";
    static final String UNET = "unet";
    static final String VAE = "vae";
    static final String SCHEDULER = "scheduler";
    static final String SD15 = "sd15";
    static final String SD21 = "sd21";

    /** Stable Diffusion 1.5: CLIP ViT-L/14 text tower, 859M-parameter UNet, PNDM scheduler, epsilon prediction. */
    public static ModelConfigs sd15() {
        return bundled(SD15, "bundled SD 1.5 configs");
    }

    /** Stable Diffusion 2.1 (768-v): OpenCLIP ViT-H text tower (23 layers), linear projections, v-prediction. */
    public static ModelConfigs sd21() {
        return bundled(SD21, "bundled SD 2.1 configs");
    }

    private static ModelConfigs bundled(String dir, String source) {
        return fromTrees(bundledTree(dir, TEXT_ENCODER), bundledTree(dir, UNET), bundledTree(dir, VAE),
                bundledTree(dir, SCHEDULER), source);
    }

    /** A bundled config as an editable tree: {@code dir} is sd15 or sd21, {@code component} e.g. {@link #UNET}. */
    static ObjectNode bundledTree(String dir, String component) {
        return ConfigJson.resource("/io/jdiffusion/models/sd/" + dir + "/" + component + ".json").tree().deepCopy();
    }

    /** Configs from diffusers-named JSON trees, checked as the files of a diffusers folder are. */
    static ModelConfigs fromTrees(ObjectNode text, ObjectNode unet, ObjectNode vae, ObjectNode scheduler, String source) {
        return new ModelConfigs(
                ClipTextConfig.fromJson(new ConfigJson(source + " text encoder", text)),
                UNetConfig.fromJson(new ConfigJson(source + " unet", unet)),
                VaeConfig.fromJson(new ConfigJson(source + " vae", vae)),
                scheduler, source);
    }

    /**
     * Reads {@code text_encoder/config.json}, {@code unet/config.json}, {@code vae/config.json} and
     * {@code scheduler/scheduler_config.json} under {@code folder}; every problem found is reported in one error.
     */
    public static ModelConfigs fromFolder(Path folder) {
        if (!Files.isDirectory(folder)) {
            throw new ModelLoadException(folder + ": config folder does not exist or is not a folder");
        }
        List<String> problems = new ArrayList<>();
        ClipTextConfig text = read(problems, () -> ClipTextConfig.fromJson(ConfigJson.read(componentFile(folder, TEXT_ENCODER, "config.json"))));
        UNetConfig unet = read(problems, () -> UNetConfig.fromJson(ConfigJson.read(componentFile(folder, UNET, "config.json"))));
        VaeConfig vae = read(problems, () -> VaeConfig.fromJson(ConfigJson.read(componentFile(folder, VAE, "config.json"))));
        ObjectNode scheduler = read(problems, () -> ConfigJson.read(componentFile(folder, SCHEDULER, "scheduler_config.json")).tree());
        if (!problems.isEmpty()) {
            throw new ModelLoadException("cannot read the model configs in " + folder + ":\n  " + String.join("\n  ", problems));
        }
        return new ModelConfigs(text, unet, vae, scheduler, folder.toString());
    }

    /** {@code folder/component/file}, failing with the diffusers layout spelled out when the component folder is missing. */
    static Path componentFile(Path folder, String component, String file) {
        return componentDir(folder, component).resolve(file);
    }

    static Path componentDir(Path folder, String component) {
        Path dir = folder.resolve(component);
        if (!Files.isDirectory(dir)) {
            throw new ModelLoadException(folder + ": missing component folder '" + component + "/' (a diffusers "
                    + "Stable Diffusion folder holds model_index.json, text_encoder/, tokenizer/, unet/, vae/ and scheduler/)");
        }
        return dir;
    }

    private interface Reader<T> {
        T read();
    }

    private static <T> T read(List<String> problems, Reader<T> reader) {
        try {
            return reader.read();
        } catch (ModelLoadException e) {
            problems.add(e.getMessage());
            return null;
        }
    }

    /** The scheduler's {@code prediction_type}: {@code epsilon} (SD 1.x, SD 2 base) or {@code v_prediction} (SD 2 768-v). */
    public String predictionType() {
        return scheduler.hasNonNull("prediction_type") ? scheduler.get("prediction_type").asText() : "epsilon";
    }

    /** "SD 1.x" or "SD 2.x" by the text width the UNet attends to. */
    public String family() {
        return switch (unet.crossAttentionDim()) {
            case 768 -> "SD 1.x";
            case 1024 -> "SD 2.x";
            default -> "SD-shaped model (cross-attention width " + unet.crossAttentionDim() + ")";
        };
    }

    /** The same configs with the scheduler's {@code prediction_type} set. */
    public ModelConfigs withPredictionType(String predictionType) {
        ObjectNode s = scheduler.deepCopy();
        s.put("prediction_type", predictionType);
        return new ModelConfigs(textEncoder, unet, vae, s, source);
    }

    /** Whether {@code folder} holds the component configs (else it may hold only a tokenizer). */
    static boolean hasComponentConfigs(Path folder) {
        return Files.isRegularFile(folder.resolve(UNET).resolve("config.json"))
                || Files.isRegularFile(folder.resolve(TEXT_ENCODER).resolve("config.json"))
                || Files.isRegularFile(folder.resolve(VAE).resolve("config.json"));
    }

    public ModelConfigs withTextEncoder(ClipTextConfig c) {
        return new ModelConfigs(c, unet, vae, scheduler, source);
    }

    public ModelConfigs withUNet(UNetConfig c) {
        return new ModelConfigs(textEncoder, c, vae, scheduler, source);
    }
}
