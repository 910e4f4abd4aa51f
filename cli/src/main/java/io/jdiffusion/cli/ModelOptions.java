package io.jdiffusion.cli;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.models.pipeline.MemoryPolicy;
import io.jdiffusion.models.sd.LoadOptions;
import io.jdiffusion.models.sd.PredictionTypeChoice;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.testdata.TinySd;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Options shared by generate, bench and serve: which model, which backend, which precision, how much memory. */
final class ModelOptions {
    private static final Pattern SIZE = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([kmgt])(?:i?b)?", Pattern.CASE_INSENSITIVE);

    @Option(names = "--model", paramLabel = "PATH",
            description = "SD 1.x/2.x diffusers folder or single-file .safetensors. Default: generate uses the bundled tiny model, bench builds full-size SD 1.5 with random weights.")
    Path model;

    @Option(names = "--config", paramLabel = "DIR",
            description = "For a single-file checkpoint: a folder holding its tokenizer (tokenizer/vocab.json and "
                    + "tokenizer/merges.txt), and optionally diffusers component configs to use instead of the architecture "
                    + "inferred from the tensors. Default: a diffusers folder beside the checkpoint, else the Hugging Face cache.")
    Path config;

    @Option(names = "--prediction-type", paramLabel = "epsilon|v_prediction",
            description = "What the UNet predicts, for single files that do not say (SD 2.x 768-v: v_prediction; "
                    + "512-base: epsilon). Default: a NAME.yaml or NAME.json beside the checkpoint (as A1111 reads it), "
                    + "else the family's usual one.")
    String predictionType;

    @Option(names = "--backend", paramLabel = "NAME",
            description = "Compute backend (see 'jdiffusion backends'); default: the available one with the highest priority.")
    String backend;

    @Option(names = "--precision", paramLabel = "f32|f16", defaultValue = "f32",
            description = "f16: F16 weights and activations with F32 accumulation where the backend has them (GPU); "
                    + "the CPU computes in F32 either way; default ${DEFAULT-VALUE}.")
    String precision;

    @Option(names = "--memory-budget", paramLabel = "SIZE|auto", defaultValue = "auto",
            description = "Memory the run may use, e.g. 3g or 4500m. When it holds twice the model's weights, every "
                    + "network stays packed for the next image (warm); otherwise each network "
                    + "is packed when its stage starts and freed when it ends (text encoders after the prompt, the UNet "
                    + "before the decode), so only the largest is resident. The CPU backend's Winograd filters, kept for speed, get at most "
                    + "what is left (-Djdiffusion.cpu.winogradCacheMiB caps them). "
                    + "Default ${DEFAULT-VALUE}: the memory this machine has available now.")
    String memoryBudget;

    /** The memory policy of --memory-budget for {@code model}. */
    MemoryPolicy memoryPolicy(StableDiffusion model) {
        return MemoryPolicy.forBudget(model, memoryBudgetBytes());
    }

    /** --memory-budget in bytes: the available memory for auto. */
    long memoryBudgetBytes() {
        String v = memoryBudget.strip();
        if (v.equalsIgnoreCase("auto")) {
            return MemoryPolicy.availableBytes();
        }
        Matcher m = SIZE.matcher(v);
        if (!m.matches()) {
            throw new IllegalArgumentException("--memory-budget must be auto or a size with its unit (e.g. 3g, 4500m), got '"
                    + memoryBudget + "'");
        }
        int shift = switch (m.group(2).toLowerCase(Locale.ROOT)) {
            case "k" -> 10;
            case "m" -> 20;
            case "g" -> 30;
            default -> 40;
        };
        double bytes = Double.parseDouble(m.group(1)) * (1L << shift);
        if (bytes < 1 || bytes >= Long.MAX_VALUE) {
            throw new IllegalArgumentException("--memory-budget must be a positive size, got '" + memoryBudget + "'");
        }
        return (long) bytes;
    }

    Precision precision() {
        return switch (precision.toLowerCase(Locale.ROOT)) {
            case "f32", "fp32", "float32" -> Precision.F32;
            case "f16", "fp16", "float16", "half" -> Precision.F16;
            default -> throw new IllegalArgumentException("unknown precision '" + precision + "' (use f32 or f16)");
        };
    }

    /** The model path, defaulting to the bundled tiny model. */
    Path modelPath() throws NoSuchFileException {
        Path p = model != null ? model : TinySd.modelDir();
        if (!Files.exists(p)) {
            throw new NoSuchFileException(p.toString(), null, "--model must be a diffusers folder or a .safetensors file");
        }
        return p;
    }

    boolean usesBundledModel() {
        return model == null;
    }

    StableDiffusion load() throws NoSuchFileException {
        return StableDiffusion.loadWith(modelPath(), LoadOptions.builder().configFolder(config)
                .predictionType(predictionType).build());
    }

    /** Checks --prediction-type before anything is loaded. */
    void checkPredictionType() {
        if (predictionType != null) {
            PredictionTypeChoice.normalize(predictionType);
        }
    }

    Backend createBackend() {
        return Backends.create(backend);
    }
}
