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
 * The architecture of a whole pipeline: the networks' configs and the scheduler config, read from a
 * diffusers-layout folder or taken from the bundled canonical SD 1.5 / SD 2.1 / SDXL configs.
 *
 * @param textEncoder2 SDXL's second text encoder (OpenCLIP ViT-bigG with its projection); null for SD 1.x/2.x
 * @param source       where the configs came from, for messages
 */
public record ModelConfigs(ClipTextConfig textEncoder, ClipTextConfig textEncoder2, UNetConfig unet, VaeConfig vae,
                           ObjectNode scheduler, String source) {
    static final String TEXT_ENCODER = "text_encoder";
    static final String TEXT_ENCODER_2 = "text_encoder_2";
    static final String UNET = "unet";
    static final String VAE = "vae";
    static final String SCHEDULER = "scheduler";
    static final String SD15 = "sd15";
    static final String SD21 = "sd21";
    static final String SDXL = "sdxl";

    /** Stable Diffusion 1.5: CLIP ViT-L/14 text tower, 859M-parameter UNet, PNDM scheduler, epsilon prediction. */
    public static ModelConfigs sd15() {
        return bundled(SD15, "bundled SD 1.5 configs");
    }

    /** Stable Diffusion 2.1 (768-v): OpenCLIP ViT-H text tower (23 layers), linear projections, v-prediction. */
    public static ModelConfigs sd21() {
        return bundled(SD21, "bundled SD 2.1 configs");
    }

    /**
     * SDXL base 1.0: CLIP ViT-L/14 and OpenCLIP ViT-bigG/14 (with projection) text towers, 2.6B-parameter UNet
     * with text_time added conditioning, VAE scaling 0.13025, EulerDiscrete with "leading" spacing.
     */
    public static ModelConfigs sdxl() {
        return bundled(SDXL, "bundled SDXL base 1.0 configs");
    }

    private static ModelConfigs bundled(String dir, String source) {
        ObjectNode text2 = ModelConfigs.class.getResource(resource(dir, TEXT_ENCODER_2)) != null
                ? bundledTree(dir, TEXT_ENCODER_2) : null;
        return fromTrees(bundledTree(dir, TEXT_ENCODER), text2, bundledTree(dir, UNET), bundledTree(dir, VAE),
                bundledTree(dir, SCHEDULER), source);
    }

    private static String resource(String dir, String component) {
        return "/io/jdiffusion/models/sd/" + dir + "/" + component + ".json";
    }

    /** A bundled config as an editable tree: {@code dir} is sd15, sd21 or sdxl, {@code component} e.g. {@link #UNET}. */
    static ObjectNode bundledTree(String dir, String component) {
        return ConfigJson.resource(resource(dir, component)).tree().deepCopy();
    }

    /**
     * Configs from diffusers-named JSON trees, checked as the files of a diffusers folder are.
     *
     * @param text2 SDXL's second text encoder; null for SD 1.x/2.x
     */
    static ModelConfigs fromTrees(ObjectNode text, ObjectNode text2, ObjectNode unet, ObjectNode vae, ObjectNode scheduler,
                                  String source) {
        return new ModelConfigs(
                ClipTextConfig.fromJson(new ConfigJson(source + " text encoder", text)),
                text2 == null ? null : ClipTextConfig.fromJson(new ConfigJson(source + " text encoder 2", text2)),
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
        ClipTextConfig text2 = null;
        if (unet != null && unet.hasTextTimeConditioning()) {
            if (!Files.isDirectory(folder.resolve(TEXT_ENCODER_2))) {
                throw new ModelLoadException(folder + " is an SDXL model (its UNet takes text_time conditioning) but has no "
                        + TEXT_ENCODER_2 + "/ folder: SDXL needs both text encoders (text_encoder/ and text_encoder_2/)");
            }
            text2 = read(problems, () -> ClipTextConfig.fromJson(ConfigJson.read(componentFile(folder, TEXT_ENCODER_2, "config.json"))));
            if (text2 != null && text2.projectionDim() == 0) {
                problems.add(folder.resolve(TEXT_ENCODER_2) + "/config.json: SDXL's second text encoder must be a "
                        + ClipTextConfig.WITH_PROJECTION + " (its pooled output conditions the UNet)");
            }
        }
        if (!problems.isEmpty()) {
            throw new ModelLoadException("cannot read the model configs in " + folder + ":\n  " + String.join("\n  ", problems));
        }
        return new ModelConfigs(text, text2, unet, vae, scheduler, folder.toString());
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

    /** "SD 1.x", "SD 2.x" or "SDXL": by the added conditioning, else by the text width the UNet attends to. */
    public String family() {
        if (isSdxl()) {
            return "SDXL";
        }
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
        return new ModelConfigs(textEncoder, textEncoder2, unet, vae, s, source);
    }

    /** Whether {@code folder} holds the component configs (else it may hold only a tokenizer). */
    static boolean hasComponentConfigs(Path folder) {
        return Files.isRegularFile(folder.resolve(UNET).resolve("config.json"))
                || Files.isRegularFile(folder.resolve(TEXT_ENCODER).resolve("config.json"))
                || Files.isRegularFile(folder.resolve(VAE).resolve("config.json"));
    }

    /** Two text encoders and text_time added conditioning. */
    public boolean isSdxl() {
        return textEncoder2 != null;
    }

    public ModelConfigs withTextEncoder(ClipTextConfig c) {
        return new ModelConfigs(c, textEncoder2, unet, vae, scheduler, source);
    }

    public ModelConfigs withUNet(UNetConfig c) {
        return new ModelConfigs(textEncoder, textEncoder2, c, vae, scheduler, source);
    }
}
