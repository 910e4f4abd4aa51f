package io.jdiffusion.models.sd;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.core.OneLine;
import io.jdiffusion.core.io.RegularFiles;
import io.jdiffusion.models.clip.ClipTextEncoder;
import io.jdiffusion.models.config.ConfigJson;
import io.jdiffusion.models.config.ModelLoadException;
import io.jdiffusion.models.weights.MappedWeights;
import io.jdiffusion.models.weights.SafetensorsWeights;
import io.jdiffusion.models.weights.StoredKey;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;

/** The diffusers folder layout: which files hold each component's weights, and the tokenizer's files. */
final class DiffusersFolder {
    static final String TEXT_ENCODER_WEIGHTS = "model";
    static final String MODEL_WEIGHTS = "diffusion_pytorch_model";
    private static final List<String> PICKLE_EXTENSIONS = List.of(".ckpt", ".bin", ".pt", ".pth", ".pkl");

    private DiffusersFolder() {
    }

    static boolean isPickle(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        return PICKLE_EXTENSIONS.stream().anyMatch(name::endsWith);
    }

    static ModelLoadException pickleRefusal(Path file) {
        return new ModelLoadException(file + " is a PyTorch pickle file: loading a pickle can run arbitrary code "
                + "hidden in it, so jdiffusion does not read .ckpt/.bin/.pt/.pth files. Use the .safetensors version of "
                + "the model instead (most models publish one), or convert this file once, in an environment you trust, "
                + "with diffusers' scripts/convert_original_stable_diffusion_to_diffusers.py --to_safetensors "
                + "(or torch.load followed by safetensors.torch.save_file).");
    }

    /** Refuses pipelines jdiffusion cannot run, when model_index.json says what the folder holds. */
    static void checkModelIndex(Path folder) {
        Path index = folder.resolve("model_index.json");
        if (!RegularFiles.present(index)) {
            return; // optional: the component folders are what jdiffusion reads
        }
        checkModelIndex(folder.toString(), ConfigJson.readTree(index));
    }

    /** Refuses the pipeline that the parsed model_index.json {@code root} of {@code folder} describes, if jdiffusion cannot run it. */
    static void checkModelIndex(String folder, JsonNode root) {
        if (!root.isObject()) {
            throw new ModelLoadException(folder + "/model_index.json: is not a JSON object");
        }
        String cls = root.path("_class_name").asText("");
        if (root.path("requires_aesthetics_score").asBoolean(false)
                || (cls.contains("XL") && root.path("text_encoder").path(0).isNull())) {
            throw new ModelLoadException(folder + " holds the SDXL refiner (" + OneLine.of(cls) + "): SDXL refiner is not supported "
                    + "(jdiffusion runs the SDXL base model)");
        }
        if (cls.contains("StableDiffusion3") || cls.contains("Flux") || (cls.contains("XL") && !cls.startsWith("StableDiffusionXL"))) {
            throw new ModelLoadException(folder + " holds a " + OneLine.of(cls)
                    + "; jdiffusion runs Stable Diffusion 1.x, 2.x and SDXL base");
        }
    }

    /**
     * The safetensors files holding one component's weights: {@code base.safetensors}, else the fp16 variant
     * {@code base.fp16.safetensors}, else the shards listed in {@code base[.fp16].safetensors.index.json}.
     * Full precision wins when both exist. Pickle-only folders are refused with the reason.
     */
    static List<Path> weightFiles(Path dir, String base) {
        for (String variant : List.of("", ".fp16")) {
            Path single = dir.resolve(base + variant + ".safetensors");
            if (RegularFiles.present(single)) {
                return List.of(single); // opening it says what is wrong if it is not a readable file
            }
            Path index = dir.resolve(base + variant + ".safetensors.index.json");
            if (RegularFiles.present(index)) {
                return shards(index);
            }
        }
        List<Path> pickles = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            files.filter(DiffusersFolder::isPickle).sorted().forEach(pickles::add);
        } catch (IOException e) {
            throw new ModelLoadException("cannot list " + dir + ": " + e.getMessage(), e);
        }
        if (!pickles.isEmpty()) {
            throw pickleRefusal(pickles.getFirst());
        }
        throw new ModelLoadException(dir + ": no weights: expected " + base + ".safetensors (or " + base
                + ".fp16.safetensors, or a sharded " + base + ".safetensors.index.json)");
    }

    private static List<Path> shards(Path index) {
        JsonNode map = ConfigJson.readTree(index).get("weight_map");
        if (map == null || !map.isObject() || map.isEmpty()) {
            throw new ModelLoadException(index + ": has no 'weight_map' object");
        }
        TreeSet<String> files = new TreeSet<>();
        for (Map.Entry<String, JsonNode> e : map.properties()) {
            files.add(e.getValue().asText());
        }
        List<Path> paths = new ArrayList<>();
        for (String f : files) {
            Path p = index.resolveSibling(f);
            if (!RegularFiles.present(p)) {
                throw new ModelLoadException(index + ": lists shard " + f + ", which is missing");
            }
            paths.add(p);
        }
        return paths;
    }

    /** The tokenizer folder under {@code root}, checked to hold CLIP's vocab.json and merges.txt. */
    static Path tokenizerFolder(Path root) {
        return tokenizerFolder(root, "tokenizer");
    }

    /** The tokenizer folder {@code name} under {@code root} (SDXL: also {@code tokenizer_2}), checked likewise. */
    static Path tokenizerFolder(Path root, String name) {
        Path dir = root.resolve(name);
        List<String> missing = new ArrayList<>();
        for (String f : List.of("vocab.json", "merges.txt")) {
            if (!RegularFiles.present(dir.resolve(f))) {
                missing.add(name + "/" + f);
            }
        }
        if (!missing.isEmpty()) {
            throw new ModelLoadException(root + ": missing " + String.join(" and ", missing)
                    + " (the CLIP BPE tokenizer files of a diffusers Stable Diffusion folder)");
        }
        return dir;
    }

    /**
     * model_index.json's {@code force_zeros_for_empty_prompt}: SDXL's unconditional row is zeros, not the
     * encoding of "", when no negative prompt is given. diffusers' default (true) where the file or key is absent.
     */
    static boolean forceZerosForEmptyPrompt(Path root) {
        Path index = root.resolve("model_index.json");
        return !Files.isRegularFile(index) || ConfigJson.readTree(index).path("force_zeros_for_empty_prompt").asBoolean(true);
    }

    /** transformers stores CLIPTextModel weights with or without the {@code text_model.} prefix; accept both. */
    static MappedWeights textEncoderSource(SafetensorsWeights w) {
        boolean prefixed = w.names().stream().anyMatch(n -> n.startsWith("text_model."));
        String prefix = prefixed ? "text_model." : "";
        return new MappedWeights(w, name -> List.of(StoredKey.whole(
                        name.startsWith(ClipTextEncoder.PROJECTION) ? name : prefix + name)), n -> true,
                n -> n.endsWith("position_ids"));
    }

    static MappedWeights unetSource(SafetensorsWeights w) {
        return MappedWeights.identity(w, n -> false);
    }

    /**
     * VAEs saved by old diffusers versions (the SD 1.x hub folders among them) name the mid-block attention
     * query/key/value/proj_attn instead of to_q/to_k/to_v/to_out.0; both are read.
     */
    static MappedWeights vaeSource(SafetensorsWeights w) {
        return new MappedWeights(w, DiffusersFolder::vaeNames, n -> true, n -> false);
    }

    private static List<StoredKey> vaeNames(String name) {
        if (!name.contains("mid_block.attentions.0.")) {
            return List.of(StoredKey.whole(name));
        }
        String legacy = name.replace(".to_q.", ".query.").replace(".to_k.", ".key.").replace(".to_v.", ".value.")
                .replace(".to_out.0.", ".proj_attn.");
        return List.of(StoredKey.whole(name), StoredKey.whole(legacy));
    }
}
