package io.jdiffusion.models.sd;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.core.DType;
import io.jdiffusion.models.clip.ClipTextEncoder;
import io.jdiffusion.models.config.ModelLoadException;
import io.jdiffusion.models.unet.UNet2DConditionModel;
import io.jdiffusion.models.vae.AutoencoderKL;
import io.jdiffusion.models.weights.RandomWeights;
import io.jdiffusion.models.weights.SafetensorsWeights;
import io.jdiffusion.models.weights.TransposedWeights;
import io.jdiffusion.models.weights.WeightSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * A loaded Stable Diffusion 1.x/2.x model: text encoder, UNet and VAE with their weights (memory-mapped
 * from safetensors files, which stay open until {@link #close()}; F16 files stay F16), plus the tokenizer
 * folder and scheduler config the pipeline needs.
 */
public final class StableDiffusion implements AutoCloseable {
    private final ClipTextEncoder textEncoder;
    /** SDXL's second text encoder (with projection); null for SD 1.x/2.x. */
    private final ClipTextEncoder textEncoder2;
    private final UNet2DConditionModel unet;
    private final AutoencoderKL vae;
    private final Path tokenizerFolder;
    private final String tokenizerProblem;
    private final JsonNode schedulerConfig;
    private final String description;
    private final List<AutoCloseable> resources;

    private StableDiffusion(ClipTextEncoder textEncoder, ClipTextEncoder textEncoder2, UNet2DConditionModel unet, AutoencoderKL vae,
                            Path tokenizerFolder, String tokenizerProblem, JsonNode schedulerConfig, String description,
                            List<AutoCloseable> resources) {
        this.textEncoder = textEncoder;
        this.textEncoder2 = textEncoder2;
        this.unet = unet;
        this.vae = vae;
        this.tokenizerFolder = tokenizerFolder;
        this.tokenizerProblem = tokenizerProblem;
        this.schedulerConfig = schedulerConfig;
        this.description = description;
        this.resources = List.copyOf(resources);
    }

    /**
     * Loads a diffusers-layout folder ({@code model_index.json}, {@code text_encoder/}, {@code tokenizer/},
     * {@code unet/}, {@code vae/}, {@code scheduler/}) or a single-file {@code .safetensors} checkpoint.
     *
     * @param configFolderOrNull a diffusers-layout folder whose configs, scheduler config and tokenizer are
     *                           used instead of the model's own (for a single file: instead of the architecture
     *                           inferred from its tensors, which also leaves it without a tokenizer)
     * @throws ModelLoadException naming every problem found: missing files, corrupt configs, pickle files,
     *                            weights that do not fit the architecture
     */
    public static StableDiffusion load(Path modelFolderOrSafetensorsFile, Path configFolderOrNull) {
        Path model = modelFolderOrSafetensorsFile;
        if (model == null || !Files.exists(model)) {
            throw new ModelLoadException(model + ": no such file or folder");
        }
        if (Files.isDirectory(model)) {
            return loadFolder(model, configFolderOrNull == null ? model : configFolderOrNull);
        }
        if (DiffusersFolder.isPickle(model)) {
            throw DiffusersFolder.pickleRefusal(model);
        }
        if (!model.getFileName().toString().endsWith(".safetensors")) {
            throw new ModelLoadException(model + ": not a model jdiffusion reads (a diffusers folder or a .safetensors "
                    + "single-file checkpoint)");
        }
        return loadSingleFile(model, configFolderOrNull);
    }

    private static StableDiffusion loadFolder(Path folder, Path configRoot) {
        if (!Files.isDirectory(folder.resolve(ModelConfigs.UNET)) && !Files.isRegularFile(folder.resolve("model_index.json"))) {
            throw new ModelLoadException(folder + " is not a diffusers Stable Diffusion folder (no model_index.json and no "
                    + "unet/ folder); for a single-file checkpoint name the .safetensors file itself");
        }
        DiffusersFolder.checkModelIndex(folder);
        ModelConfigs configs = ModelConfigs.fromFolder(configRoot);
        Path tokenizer = DiffusersFolder.tokenizerFolder(configRoot);
        List<AutoCloseable> opened = new ArrayList<>();
        try {
            List<String> problems = new ArrayList<>();
            SafetensorsWeights textFile = open(problems, opened, folder, ModelConfigs.TEXT_ENCODER, DiffusersFolder.TEXT_ENCODER_WEIGHTS);
            SafetensorsWeights text2File = configs.isSdxl()
                    ? open(problems, opened, folder, ModelConfigs.TEXT_ENCODER_2, DiffusersFolder.TEXT_ENCODER_WEIGHTS) : null;
            SafetensorsWeights unetFile = open(problems, opened, folder, ModelConfigs.UNET, DiffusersFolder.MODEL_WEIGHTS);
            SafetensorsWeights vaeFile = open(problems, opened, folder, ModelConfigs.VAE, DiffusersFolder.MODEL_WEIGHTS);
            if (!problems.isEmpty()) {
                throw new ModelLoadException("cannot load " + folder + ":\n  " + String.join("\n  ", problems));
            }
            Networks n = Networks.load(configs, DiffusersFolder.textEncoderSource(textFile),
                    text2File == null ? null : DiffusersFolder.textEncoderSource(text2File), DiffusersFolder.unetSource(unetFile), DiffusersFolder.vaeSource(vaeFile), folder.toString());
            String from = configRoot.equals(folder) ? "" : ", configs from " + configRoot;
            return new StableDiffusion(n.text, n.text2, n.unet, n.vae, tokenizer, null, configs.scheduler(),
                    configs.family() + " (diffusers folder " + folder + from + ")", opened);
        } catch (RuntimeException e) {
            closeAll(opened);
            throw e;
        }
    }

    private static SafetensorsWeights open(List<String> problems, List<AutoCloseable> opened, Path folder,
                                           String component, String base) {
        try {
            SafetensorsWeights w = SafetensorsWeights.open(DiffusersFolder.weightFiles(
                    ModelConfigs.componentDir(folder, component), base));
            opened.add(w);
            return w;
        } catch (ModelLoadException e) {
            problems.add(e.getMessage());
            return null;
        }
    }

    private static StableDiffusion loadSingleFile(Path file, Path configFolder) {
        SafetensorsWeights w = SafetensorsWeights.open(file);
        List<AutoCloseable> resources = new ArrayList<>(List.of(w));
        try {
            SingleFileCheckpoint.TextTower tower = SingleFileCheckpoint.detect(w, file);
            ModelConfigs configs;
            Path tokenizer = null;
            String tokenizerProblem = null;
            if (configFolder != null) {
                configs = ModelConfigs.fromFolder(configFolder);
                tokenizer = DiffusersFolder.tokenizerFolder(configFolder);
            } else {
                configs = SingleFileCheckpoint.inferConfigs(w, tower, file);
                tokenizerProblem = SingleFileCheckpoint.noTokenizer(file, tower);
            }
            TransposedWeights text2 = tower == SingleFileCheckpoint.TextTower.SDXL
                    ? SingleFileCheckpoint.sdxlText2Source(w, configs.textEncoder2()) : null;
            if (text2 != null) {
                resources.add(text2);
            }
            Networks n = Networks.load(configs,
                    SingleFileCheckpoint.textSource(w, tower, configs.textEncoder()), text2,
                    SingleFileCheckpoint.unetSource(w, configs.unet()),
                    SingleFileCheckpoint.vaeSource(w, configs.vae()), file.toString());
            String note = configFolder != null ? "configs from " + configFolder
                    : "architecture inferred from the tensors, prediction type " + configs.predictionType()
                    + " assumed (pass --config DIR to override)";
            return new StableDiffusion(n.text, n.text2, n.unet, n.vae, tokenizer, tokenizerProblem, configs.scheduler(),
                    configs.family() + " (single file " + file + "; " + note + ")", resources);
        } catch (RuntimeException e) {
            closeAll(resources);
            throw e;
        }
    }

    /** Full-size SD 1.5 (UNet 859M, CLIP ViT-L/14 text tower, VAE: 1.07B parameters) with seeded random F32 weights. */
    public static StableDiffusion randomSd15(long seed) {
        return randomSd15(seed, DType.F32);
    }

    /** As {@link #randomSd15(long)}, with the weights stored as {@code storage} (F16 halves the 4.3 GB). */
    public static StableDiffusion randomSd15(long seed, DType storage) {
        return random(ModelConfigs.sd15(), seed, storage);
    }

    /**
     * A model of the architecture {@code configs} with seeded random weights, built in memory without files
     * (see {@link RandomWeights}); it has no tokenizer.
     */
    public static StableDiffusion random(ModelConfigs configs, long seed, DType storage) {
        RandomWeights weights = new RandomWeights(seed, storage);
        try {
            Networks n = Networks.load(configs, weights, configs.isSdxl() ? weights : null, weights, weights, "random weights");
            return new StableDiffusion(n.text, n.text2, n.unet, n.vae, null, null, configs.scheduler(),
                    configs.family() + " architecture (" + configs.source() + ") with " + weights.description(),
                    List.of(weights));
        } catch (RuntimeException e) {
            weights.close();
            throw e;
        }
    }

    /** The networks, loaded together so that one error reports the problems of all of them. */
    private record Networks(ClipTextEncoder text, ClipTextEncoder text2, UNet2DConditionModel unet, AutoencoderKL vae) {
        /** @param text2 SDXL's second text encoder's weights; null for SD 1.x/2.x */
        static Networks load(ModelConfigs c, WeightSource text, WeightSource text2, WeightSource unet, WeightSource vae,
                             String where) {
            List<String> problems = new ArrayList<>();
            ClipTextEncoder t = attempt(problems, () -> ClipTextEncoder.load(c.textEncoder(), text, c.source()));
            ClipTextEncoder t2 = text2 == null ? null
                    : attempt(problems, () -> ClipTextEncoder.load(c.textEncoder2(), text2, c.source()));
            UNet2DConditionModel u = attempt(problems, () -> UNet2DConditionModel.load(c.unet(), c.predictionType(), unet, c.source()));
            AutoencoderKL v = attempt(problems, () -> AutoencoderKL.load(c.vae(), vae, c.source()));
            if (!problems.isEmpty()) {
                throw new ModelLoadException("cannot load " + where + ":\n" + String.join("\n", problems));
            }
            return new Networks(t, t2, u, v);
        }

        private static <T> T attempt(List<String> problems, Supplier<T> load) {
            try {
                return load.get();
            } catch (ModelLoadException e) {
                problems.add(e.getMessage());
                return null;
            }
        }
    }

    public ClipTextEncoder textEncoder() {
        return textEncoder;
    }

    /** SDXL's second text encoder (OpenCLIP ViT-bigG with projection); null for SD 1.x/2.x. */
    public ClipTextEncoder textEncoder2() {
        return textEncoder2;
    }

    public UNet2DConditionModel unet() {
        return unet;
    }

    public AutoencoderKL vae() {
        return vae;
    }

    /**
     * The folder holding the CLIP tokenizer's {@code vocab.json} and {@code merges.txt}; null for random
     * models (feed token ids directly).
     *
     * @throws ModelLoadException for a single-file checkpoint loaded without a config folder, saying what to supply
     */
    public Path tokenizerFolder() {
        if (tokenizerProblem != null) {
            throw new ModelLoadException(tokenizerProblem);
        }
        return tokenizerFolder;
    }

    /** The scheduler's config ({@code scheduler/scheduler_config.json}, or the family's default for a bare single file). */
    public JsonNode schedulerConfig() {
        return schedulerConfig.deepCopy();
    }

    /** What was loaded from where, e.g. {@code SD 1.x (diffusers folder /models/sd15)}; for logs and PNG metadata. */
    public String description() {
        return description;
    }

    /** Unmaps the weight files (or frees random weights); the networks' graphs must not be run afterwards. */
    @Override
    public void close() {
        closeAll(resources);
    }

    private static void closeAll(List<AutoCloseable> resources) {
        for (AutoCloseable r : resources) {
            try {
                r.close();
            } catch (Exception e) {
                throw new IllegalStateException("cannot close " + r, e);
            }
        }
    }
}
