package io.jdiffusion.models.sd;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.core.DType;
import io.jdiffusion.models.clip.ClipTextEncoder;
import io.jdiffusion.models.conditioning.ClipConditioner;
import io.jdiffusion.models.conditioning.SdxlConditioner;
import io.jdiffusion.models.conditioning.TextConditioner;
import io.jdiffusion.models.config.ModelLoadException;
import io.jdiffusion.models.scheduler.Sampler;
import io.jdiffusion.models.tokenizer.ClipTokenizer;
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
 * A loaded Stable Diffusion 1.x/2.x or SDXL model: its text conditioner (tokenizers and text encoders), UNet and VAE
 * with their weights (memory-mapped from safetensors files, which stay open until {@link #close()}; F16 files
 * stay F16), and the scheduler config the pipeline needs.
 *
 * <p>Loading reads configs and tensor headers and maps the weight files; nothing is computed until a
 * {@link io.jdiffusion.models.pipeline.StableDiffusionPipeline} compiles the networks on a backend.
 * <b>Ownership:</b> whoever loads a model closes it, after closing every pipeline built on it.
 * <b>Threads:</b> a loaded model is immutable; several pipelines (on one or several backends) may share it.
 */
public final class StableDiffusion implements AutoCloseable {
    /** SD 1.x/2.x ship PNDM (or DDIM, which jdiffusion leaves to the user's choice) as their scheduler. */
    private static final Sampler DEFAULT_SAMPLER = Sampler.PNDM;
    private final ClipTextEncoder textEncoder;
    /** SDXL's second text encoder (with projection); null for SD 1.x/2.x. */
    private final ClipTextEncoder textEncoder2;
    private final TextConditioner conditioner;
    private final UNet2DConditionModel unet;
    private final AutoencoderKL vae;
    private final JsonNode schedulerConfig;
    private final String description;
    private final ModelIdentity identity;
    private final List<AutoCloseable> resources;

    private StableDiffusion(ClipTextEncoder textEncoder, ClipTextEncoder textEncoder2, TextConditioner conditioner,
                            UNet2DConditionModel unet, AutoencoderKL vae, JsonNode schedulerConfig, String description,
                            ModelIdentity identity,
                            List<AutoCloseable> resources) {
        this.textEncoder = textEncoder;
        this.textEncoder2 = textEncoder2;
        this.conditioner = conditioner;
        this.unet = unet;
        this.vae = vae;
        this.schedulerConfig = schedulerConfig;
        this.description = description;
        this.identity = identity;
        this.resources = List.copyOf(resources);
    }

    /**
     * Loads a diffusers-layout folder ({@code model_index.json}, {@code text_encoder/}, {@code tokenizer/},
     * {@code unet/}, {@code vae/}, {@code scheduler/}) or a single-file {@code .safetensors} checkpoint.
     *
     * @param modelFolderOrSafetensorsFile the diffusers folder, or the {@code .safetensors} file
     * @param configFolderOrNull           see {@link LoadOptions#configFolder()}; null to use the folder's own
     *                                     configs, or for a single file, the bundled ones and a tokenizer search
     * @return the loaded model; the caller closes it
     * @throws ModelLoadException naming every problem found: missing files, corrupt configs, pickle files,
     *                            weights that do not fit the architecture
     */
    public static StableDiffusion load(Path modelFolderOrSafetensorsFile, Path configFolderOrNull) {
        return loadWith(modelFolderOrSafetensorsFile, LoadOptions.builder().configFolder(configFolderOrNull).build());
    }

    /**
     * Loads a diffusers folder or a single-file checkpoint. A single file's architecture (SD 1.x, SD 2.x) is
     * inferred from its tensor shapes and the bundled configs used, unless the config folder holds component
     * configs; its tokenizer comes from the config folder or is searched for ({@link TokenizerSearch}); its
     * prediction type is chosen as {@link PredictionTypeChoice} says. The description says what was used.
     *
     * @param modelFolderOrSafetensorsFile the diffusers folder, or the {@code .safetensors} file
     * @param options                      the config folder, prediction type and Hugging Face caches to search
     * @return the loaded model; the caller closes it
     * @throws ModelLoadException naming the problems found: a missing path, a pickle checkpoint (refused, never
     *                            read), a file of another format, missing or corrupt configs, weights that do
     *                            not fit the architecture, no tokenizer found
     */
    public static StableDiffusion loadWith(Path modelFolderOrSafetensorsFile, LoadOptions options) {
        Path model = modelFolderOrSafetensorsFile;
        if (model == null || !Files.exists(model)) {
            throw new ModelLoadException(model + ": no such file or folder");
        }
        if (Files.isDirectory(model)) {
            return loadFolder(model, options.configFolder() == null ? model : options.configFolder(), options.predictionType());
        }
        if (DiffusersFolder.isPickle(model)) {
            throw DiffusersFolder.pickleRefusal(model);
        }
        if (!model.getFileName().toString().endsWith(".safetensors")) {
            throw new ModelLoadException(model + ": not a model jdiffusion reads (a diffusers folder or a .safetensors "
                    + "single-file checkpoint)");
        }
        return loadSingleFile(model, options);
    }

    private static StableDiffusion loadFolder(Path folder, Path configRoot, String predictionType) {
        if (!Files.isDirectory(folder.resolve(ModelConfigs.UNET)) && !Files.isRegularFile(folder.resolve("model_index.json"))) {
            throw new ModelLoadException(folder + " is not a diffusers Stable Diffusion folder (no model_index.json and no "
                    + "unet/ folder); for a single-file checkpoint name the .safetensors file itself");
        }
        DiffusersFolder.checkModelIndex(folder);
        ModelConfigs configs = ModelConfigs.fromFolder(configRoot);
        if (predictionType != null) {
            configs = configs.withPredictionType(predictionType);
        }
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
            TextConditioner conditioner = n.conditioner(tokenizer,
                    configs.isSdxl() ? DiffusersFolder.tokenizerFolder(configRoot, "tokenizer_2") : null, null,
                    DiffusersFolder.forceZerosForEmptyPrompt(configRoot));
            return new StableDiffusion(n.text, n.text2, conditioner, n.unet, n.vae,
                    configs.scheduler(), configs.family() + " (diffusers folder " + folder + from + ")",
                    ModelIdentity.ofFolder(folder), opened);
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

    private static StableDiffusion loadSingleFile(Path file, LoadOptions options) {
        SafetensorsWeights w = SafetensorsWeights.open(file);
        List<AutoCloseable> resources = new ArrayList<>(List.of(w));
        try {
            CheckpointFamily family = CheckpointFamily.detect(w, file);
            Path configFolder = options.configFolder();
            if (configFolder != null && !Files.isDirectory(configFolder)) {
                throw new ModelLoadException("--config " + configFolder + ": no such folder");
            }
            boolean givenConfigs = configFolder != null && ModelConfigs.hasComponentConfigs(configFolder);
            ModelConfigs configs;
            String note;
            if (givenConfigs) {
                configs = ModelConfigs.fromFolder(configFolder);
                if (options.predictionType() != null) {
                    configs = configs.withPredictionType(options.predictionType());
                }
                note = "configs from " + configFolder + ", prediction type " + configs.predictionType();
            } else {
                PredictionTypeChoice prediction = PredictionTypeChoice.choose(options.predictionType(), file, family);
                configs = LdmArchitecture.infer(SingleFileCheckpoint.shapes(w), family, prediction, file);
                note = "architecture inferred from the tensors, prediction type " + prediction;
            }
            TransposedWeights text2 = family.textTower() == SingleFileCheckpoint.TextTower.SDXL
                    ? SingleFileCheckpoint.sdxlText2Source(w, configs.textEncoder2()) : null;
            if (text2 != null) {
                resources.add(text2);
            }
            Networks n;
            try {
                n = Networks.load(configs,
                        SingleFileCheckpoint.textSource(w, family.textTower(), configs.textEncoder()), text2,
                        SingleFileCheckpoint.unetSource(w, configs.unet()),
                        SingleFileCheckpoint.vaeSource(w, configs.vae()), file.toString());
            } catch (ModelLoadException e) {
                if (!givenConfigs) {
                    throw e;
                }
                throw new ModelLoadException(e.getMessage() + "\nThe configs in " + configFolder + " do not describe this "
                        + family.label() + " checkpoint; a --config folder holding only tokenizer/ uses the architecture "
                        + "inferred from the tensors.", e);
            }
            TokenizerSearch.Found tokenizer = TokenizerSearch.find(file, family, configFolder, options.hubCaches());
            List<Path> folders = tokenizer.folders();
            TextConditioner conditioner = n.conditioner(folders.getFirst(), folders.size() > 1 ? folders.get(1) : null,
                    null, configFolder == null || DiffusersFolder.forceZerosForEmptyPrompt(configFolder));
            return new StableDiffusion(n.text, n.text2, conditioner, n.unet, n.vae, configs.scheduler(),
                    configs.family() + " (single file " + file + "; " + note + "; tokenizer from " + tokenizer.where() + ")",
                    ModelIdentity.ofFile(file), resources);
        } catch (RuntimeException e) {
            closeAll(resources);
            throw e;
        }
    }

    /**
     * Full-size SD 1.5 (UNet 859M, CLIP ViT-L/14 text tower, VAE: 1.07B parameters) with seeded random weights
     * stored as {@code storage} (F16 halves the 4.3 GB); see {@link #random}. For benchmarks: its images are noise.
     *
     * @param seed            seeds the weights: the same seed gives the same model
     * @param storage         the weights' dtype, F32 or F16
     * @param tokenizerFolder a folder with CLIP's {@code vocab.json} and {@code merges.txt}, or null for none
     *                        (encoding a prompt then fails with a message saying so)
     * @return the model, held in memory; the caller closes it to free the weights
     */
    public static StableDiffusion randomSd15(long seed, DType storage, Path tokenizerFolder) {
        return random(ModelConfigs.sd15(), seed, storage, tokenizerFolder);
    }

    /**
     * A model of the architecture {@code configs} with seeded random weights, built in memory without files
     * (see {@link RandomWeights}), using the CLIP tokenizer in {@code tokenizerFolder} (any CLIP vocabulary
     * gives valid ids for benchmarking), or none when it is null.
     *
     * @param configs         the architecture: every network's config and the scheduler's
     * @param seed            seeds the weights: the same seed gives the same model
     * @param storage         the weights' dtype, F32 or F16
     * @param tokenizerFolder a CLIP tokenizer folder (used for both of SDXL's tokenizers), or null for none
     * @return the model, held in memory; the caller closes it to free the weights
     */
    public static StableDiffusion random(ModelConfigs configs, long seed, DType storage, Path tokenizerFolder) {
        RandomWeights weights = new RandomWeights(seed, storage);
        try {
            Networks n = Networks.load(configs, weights, configs.isSdxl() ? weights : null, weights, weights, "random weights");
            TextConditioner conditioner = n.conditioner(tokenizerFolder, tokenizerFolder,
                    "a model with random weights has no tokenizer", true);
            return new StableDiffusion(n.text, n.text2, conditioner, n.unet, n.vae, configs.scheduler(),
                    configs.family() + " architecture (" + configs.source() + ") with " + weights.description(),
                    ModelIdentity.named("random " + configs.family() + " weights"), List.of(weights));
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

        /**
         * The conditioner of these networks: CLIP's for one text encoder, SDXL's for two. With no tokenizer
         * folder, encoding fails with {@code missing}.
         *
         * @param tokenizer2            SDXL's second tokenizer folder (ignored for one encoder)
         * @param zerosForEmptyNegative model_index.json's force_zeros_for_empty_prompt (SDXL)
         */
        TextConditioner conditioner(Path tokenizer, Path tokenizer2, String missing, boolean zerosForEmptyNegative) {
            if (text2 == null) {
                return tokenizer != null ? ClipConditioner.withTokenizer(text, tokenizer)
                        : ClipConditioner.withoutTokenizer(text, missing);
            }
            return tokenizer != null
                    ? SdxlConditioner.withTokenizers(text, text2, ClipTokenizer.load(tokenizer), ClipTokenizer.load(tokenizer2),
                    zerosForEmptyNegative)
                    : SdxlConditioner.withoutTokenizers(text, text2, missing);
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

    /**
     * The (first) text encoder: CLIP ViT-L/14 for SD 1.x and SDXL, OpenCLIP ViT-H/14 for SD 2.x.
     *
     * @return the text encoder network, whose graphs a backend compiles
     */
    public ClipTextEncoder textEncoder() {
        return textEncoder;
    }

    /**
     * SDXL's second text encoder.
     *
     * @return OpenCLIP ViT-bigG with its pooled-output projection; null for SD 1.x/2.x
     */
    public ClipTextEncoder textEncoder2() {
        return textEncoder2;
    }

    /**
     * The text encoders in order.
     *
     * @return [text_encoder] for SD 1.x/2.x, [text_encoder, text_encoder_2] for SDXL; unmodifiable
     */
    public List<ClipTextEncoder> textEncoders() {
        return textEncoder2 == null ? List.of(textEncoder) : List.of(textEncoder, textEncoder2);
    }

    /**
     * Whether the VAE must run in F32 even in an F16 pipeline: diffusers' SDXL pipelines upcast it when its
     * config says {@code force_upcast} (the original SDXL VAE overflows F16; the fp16-fix VAE says false). Its
     * SD 1/2 pipelines never do, whatever a re-saved config says.
     *
     * @return true for an SDXL model whose VAE config asks for {@code force_upcast}
     */
    public boolean vaeNeedsF32() {
        return textEncoder2 != null && vae.config().forceUpcast();
    }

    /**
     * The denoising network.
     *
     * @return the UNet, with its config and prediction type (epsilon or v)
     */
    public UNet2DConditionModel unet() {
        return unet;
    }

    /**
     * The autoencoder that maps images to latents and back.
     *
     * @return the VAE, with its scaling factor and its encoder and decoder graphs
     */
    public AutoencoderKL vae() {
        return vae;
    }

    /**
     * Turns prompts into the UNet's conditioning.
     *
     * @return the model's conditioner, which holds its tokenizer(s) and text encoder(s): CLIP's for SD 1.x/2.x,
     *         both encoders with pooled embeddings and time ids for SDXL
     */
    public TextConditioner conditioner() {
        return conditioner;
    }

    /**
     * The sampler used when a request names none: the one the model's scheduler config describes.
     *
     * @return Euler for a model that ships EulerDiscreteScheduler (SDXL), PNDM otherwise
     */
    public Sampler defaultSampler() {
        // SDXL ships EulerDiscrete; diffusers runs what the scheduler config names
        return schedulerConfig.path("_class_name").asText("").equals("EulerDiscreteScheduler") ? Sampler.EULER : DEFAULT_SAMPLER;
    }

    /**
     * The scheduler's config: {@code scheduler/scheduler_config.json}, or the family's default for a bare single file.
     *
     * @return a copy of the JSON, which the caller may change
     */
    public JsonNode schedulerConfig() {
        return schedulerConfig.deepCopy();
    }

    /**
     * What was loaded from where, for logs; it holds local paths, so it never goes into an image (see {@link #identity()}).
     *
     * @return e.g. {@code SD 1.x (diffusers folder /models/sd15)}, with the configs, prediction type and
     *         tokenizer used for a single file
     */
    public String description() {
        return description;
    }

    /**
     * The model's name and, for a single file, its A1111 hash, as a PNG's infotext gives them.
     *
     * @return the identity; it never holds a local path
     */
    public ModelIdentity identity() {
        return identity;
    }

    /**
     * Unmaps the weight files (or frees random weights). Close the pipelines built on this model first: their
     * networks must not be compiled or run afterwards.
     *
     * @throws IllegalStateException if a weight file cannot be closed
     */
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
