package io.jdiffusion.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdiffusion.backend.Backend;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.core.io.AtomicFile;
import io.jdiffusion.core.io.RegularFiles;
import io.jdiffusion.core.safetensors.SafetensorsWriter;
import io.jdiffusion.models.conditioning.SizeConditioning;
import io.jdiffusion.models.lora.LoraRequest;
import io.jdiffusion.models.lora.LoraUse;
import io.jdiffusion.models.pipeline.A1111Infotext;
import io.jdiffusion.models.pipeline.GenerationRequest;
import io.jdiffusion.models.pipeline.GenerationResult;
import io.jdiffusion.models.pipeline.ImageFiles;
import io.jdiffusion.models.pipeline.BufferedImages;
import io.jdiffusion.models.pipeline.ImageRuntime;
import io.jdiffusion.models.pipeline.Images;
import io.jdiffusion.models.pipeline.PngWriter;
import io.jdiffusion.models.pipeline.RequestLimits;
import io.jdiffusion.models.pipeline.StableDiffusionPipeline;
import io.jdiffusion.models.scheduler.Sampler;
import io.jdiffusion.models.scheduler.Schedule;
import io.jdiffusion.models.sd.ModelIdentity;
import io.jdiffusion.models.sd.StableDiffusion;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.NoSuchFileException;
import java.nio.file.Files;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code jdiffusion generate}: prompt in, PNG out. */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Generate images from a prompt (text-to-image), or from a prompt and an image (image-to-image).")
final class GenerateCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = {"-p", "--prompt"}, required = true,
            description = "What to draw, in A1111's syntax: (word:1.3), (word), [word], BREAK, <lora:NAME:WEIGHT>; any length.")
    String prompt;

    @Option(names = {"-n", "--negative-prompt"}, defaultValue = "", description = "What to steer away from (default: empty).")
    String negativePrompt;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "FILE.png",
            description = "Output PNG; with --batch-count N > 1, the seed is added before the extension.")
    Path output;

    @Option(names = "--seed", description = "Random seed (default: random, printed). Gives diffusers' image for torch.Generator('cpu').manual_seed(SEED).")
    Long seed;

    @Option(names = "--sampler", paramLabel = "NAME", completionCandidates = SamplerNames.class,
            description = "One of ${COMPLETION-CANDIDATES}; A1111's names work too (\"DPM++ 2M Karras\", \"Euler a\")"
                    + " (default: the model's, pndm for SD 1.x/2.x, euler for SDXL).")
    String sampler;

    @Option(names = "--schedule", paramLabel = "NAME", completionCandidates = SamplerNames.Schedules.class,
            description = "Noise schedule: ${COMPLETION-CANDIDATES} (default: the sampler's own; pndm, ddim and ddpm take"
                    + " sgm_uniform only, lcm none).")
    String schedule;

    @Option(names = "--karras", description = "Karras sigmas: the same as --schedule karras.")
    boolean karras;

    @Option(names = "--eta", defaultValue = "0", description = "DDIM eta (default ${DEFAULT-VALUE}).")
    float eta;

    @Option(names = "--steps", defaultValue = "20", description = "Denoising steps (default ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = {"-g", "--guidance-scale"}, defaultValue = "7.5",
            description = "Classifier-free guidance; <= 1 turns it off (default ${DEFAULT-VALUE}).")
    float guidance;

    @Option(names = {"-W", "--width"}, description = "Width in pixels (default: the model's).")
    int width;

    @Option(names = {"-H", "--height"}, description = "Height in pixels (default: the model's).")
    int height;

    @Option(names = "--init-image", paramLabel = "FILE", description = "Start from this image (image-to-image).")
    Path initImage;

    @Option(names = "--strength", defaultValue = "0.8", description = "Image-to-image: how much to change the image, in (0, 1] (default ${DEFAULT-VALUE}).")
    float strength;

    @Option(names = "--mask", paramLabel = "FILE",
            description = "Inpainting: repaint the white part of --init-image (same size; grey below 50%% keeps). Inpainting"
                    + " models (9-channel UNets) get the mask and masked image as input; other models blend the kept part back"
                    + " after every step.")
    Path mask;

    @Option(names = "--mask-blur", paramLabel = "N", defaultValue = "0",
            description = "Blur the mask with a Gaussian of N pixels (sigma) before it is cut at 50%%: rounds its outline"
                    + " (default ${DEFAULT-VALUE}).")
    int maskBlur;

    @Option(names = "--inpaint-full-res",
            description = "Inpaint only the masked area, at full resolution (A1111's \"Inpaint area: Only masked\"): the"
                    + " mask's bounding box plus padding, grown to the --width:--height ratio, is cut out, repainted at"
                    + " --width x --height and pasted back through the mask. The output keeps --init-image's size.")
    boolean inpaintFullRes;

    @Option(names = "--inpaint-full-res-padding", paramLabel = "N", defaultValue = "32",
            description = "With --inpaint-full-res: pixels added around the mask's bounding box (default ${DEFAULT-VALUE}).")
    int inpaintFullResPadding;

    @Mixin
    VaeTilingOption vaeTiling;

    @Option(names = "--batch-count", defaultValue = "1", description = "Images to make, with seeds SEED, SEED+1, ... (default ${DEFAULT-VALUE}).")
    int batchCount;

    @Option(names = "--save-latents", paramLabel = "FILE.safetensors",
            description = "Also save the final latents (tensor 'latents' [1,4,h,w], before division by the VAE scaling factor).")
    Path saveLatents;

    @Option(names = "--original-size", paramLabel = "WxH",
            description = "SDXL size conditioning: the size the model should believe the image had before cropping (default: the image size, as diffusers).")
    String originalSize;

    @Option(names = "--crop-top-left", paramLabel = "TOP,LEFT",
            description = "SDXL size conditioning: the crop's top-left corner (default 0,0, as diffusers).")
    String cropTopLeft;

    @Option(names = "--target-size", paramLabel = "WxH",
            description = "SDXL size conditioning: the size asked for (default: the image size, as diffusers).")
    String targetSize;

    @Option(names = "--lora", paramLabel = "FILE[:WEIGHT]",
            description = "Apply a LoRA (kohya/A1111, diffusers/PEFT or LoCon safetensors) with WEIGHT (default 1) "
                    + "to the UNet and the text encoder; repeatable.")
    List<String> loras = new ArrayList<>();

    @Option(names = "--lora-dir", paramLabel = "DIR",
            description = "Where <lora:NAME:WEIGHT> tags in the prompt find NAME.safetensors (also in sub-folders).")
    Path loraDir;

    @Option(names = "--json", description = "Print one JSON object on stdout at the end (the run summary: preparation,"
            + " time to the first image from process start, each image's stages, peak memory; bench --json's field names)"
            + " instead of a line per image; the lines go to stderr.")
    boolean json;

    @Mixin
    ModelOptions modelOptions;

    /**
     * The init image and mask as read by the checks before loading (null when not given). Decoded pixels, not
     * AWT images: picocli reflects on this class's fields and methods, and no AWT type in their signatures lets
     * a runtime without java.desktop (a jlink'd JDK on a GPU host) run every other command.
     */
    private ImageFiles.Rgb initSource;
    private ImageFiles.Rgb maskSource;

    /** The sampler (null: the model's default) and schedule the options name, set by the checks before loading. */
    private SamplerNames.Resolved choice;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        // before minutes of loading and generating: the image is written (and an init image read) through javax.imageio
        ImageRuntime.require();
        validateBeforeLoading();
        List<LoraUse> loraUses = loraUses();
        // tags name files that exist before minutes go into loading the model
        LoraRequest.resolve(prompt, loraUses, loraDir);
        SizeConditioning sizeConditioning = sizeConditioning();
        ModelOptions mo = modelOptions;
        long firstSeed = seed != null ? seed : new SecureRandom().nextLong() & 0xFFFF_FFFFL;
        long loadStart = System.nanoTime();
        try (StableDiffusion model = mo.load(); Backend backend = mo.createBackend();
             StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model, backend, mo.precision(),
                     mo.memoryPolicy(model))) {
            double loadMs = (System.nanoTime() - loadStart) / 1e6;
            int w = width == 0 ? pipeline.defaultWidth() : width;
            int h = height == 0 ? pipeline.defaultHeight() : height;
            if (mo.usesBundledModel()) {
                err.println("jdiffusion: using the bundled tiny model: its weights are random, so the image is noise. Pass --model for a real SD 1.x/2.x or SDXL model.");
            }
            Sampler.Choice samplerUsed = new Sampler.Choice(choice.sampler() != null ? choice.sampler() : model.defaultSampler(),
                    choice.schedule()).checked();
            err.printf("jdiffusion: %s on %s (%s), %dx%d, sampler %s (%s), %s, guidance %s%n", model.description(),
                    backend.name(), backend.deviceDescription(), w, h, describe(samplerUsed), samplerUsed.a1111Label(),
                    steps == 1 ? "1 step" : steps + " steps", guidance);
            err.println("jdiffusion: memory: " + pipeline.memoryPolicy().describe());
            announceHashing(err, model);
            // Only masked: the image and mask keep their size; the crop is brought to w x h.
            int imageW = inpaintFullRes ? initSource.width() : w;
            int imageH = inpaintFullRes ? initSource.height() : h;
            Tensor init = initSource != null ? BufferedImages.fromBufferedImage(initSource.toBufferedImage(), imageW, imageH) : null;
            Tensor maskTensor = maskSource != null
                    ? Images.gaussianBlur(BufferedImages.maskFromBufferedImage(maskSource.toBufferedImage(), imageW, imageH), maskBlur) : null;
            GenerationRequest.InpaintArea area = inpaintFullRes
                    ? GenerationRequest.InpaintArea.onlyMasked(inpaintFullResPadding) : GenerationRequest.InpaintArea.WHOLE_PICTURE;
            // with --json the lines a person reads go to stderr, and stdout holds the one JSON object
            PrintWriter lines = json ? err : out;
            ArrayNode images = JsonNodeFactory.instance.arrayNode();
            double preparationMs = 0;
            double firstImageMs = -1;
            try {
                for (int i = 0; i < batchCount; i++) {
                    long s = firstSeed + i;
                    GenerationRequest request = GenerationRequest.builder().prompt(prompt).negativePrompt(negativePrompt)
                            .seed(s).sampler(samplerUsed.sampler()).schedule(samplerUsed.schedule()).steps(steps).guidanceScale(guidance).eta(eta)
                            .size(w, h).initImage(init, strength).mask(maskTensor).inpaintArea(area).sizeConditioning(sizeConditioning)
                            .vaeTiling(vaeTiling.mode()).loras(loraUses).loraDir(loraDir).build();
                    Path target = batchCount == 1 ? output : withSeed(output, s);
                    try (ConsoleProgress progress = new ConsoleProgress("seed " + s, err);
                         GenerationResult result = pipeline.generate(request, progress)) {
                        result.warnings().forEach(warning -> err.println("jdiffusion: warning: " + warning));
                        writeImage(target, request, result, model, w, h, maskSource != null && maskBlur > 0 ? maskBlur : null);
                        if (saveLatents != null) {
                            writeLatents(batchCount == 1 ? saveLatents : withSeed(saveLatents, s), result);
                        }
                        if (i == 0) {
                            firstImageMs = RunSummary.sinceProcessStartMs();
                        }
                        String firstImage = i == 0 ? String.format(java.util.Locale.ROOT, " | first image %.2f s after process start",
                                firstImageMs / 1000) : "";
                        lines.printf("%s  seed %d  %s%s%n", target, s, RunSummary.describe(result.timings(), backend), firstImage);
                        preparationMs += result.timings().preparationMs();
                        images.add(RunSummary.jsonStages(images.objectNode().put("file", target.toString()).put("seed", s),
                                result.timings()));
                    }
                }
                if (json) {
                    ObjectNode o = RunSummary.jsonRun(model.description(), backend, pipeline.precisionRequested(),
                            pipeline.precisionUsed(), w, h, steps, vaeTiling.mode());
                    o.put("sampler", describe(samplerUsed)).put("batch_count", batchCount);
                    RunSummary.jsonStartup(o, loadMs, preparationMs, firstImageMs);
                    o.set("images", images);
                    RunSummary.jsonMemory(o, backend, pipeline.memoryPolicy().describe());
                    out.println(RunSummary.json(o));
                }
                if (pipeline.precisionUsed() != pipeline.precisionRequested()) {
                    err.printf("jdiffusion: --precision %s: backend %s computed in %s%n", RunSummary.lower(pipeline.precisionRequested()),
                            backend.name(), RunSummary.lower(pipeline.precisionUsed()));
                }
            } finally {
                if (init != null) {
                    init.close();
                }
                if (maskTensor != null) {
                    maskTensor.close();
                }
            }
        }
        return 0;
    }

    /** {@code --lora FILE[:WEIGHT]} options; the weight is what follows the last ':' when it is a number. */
    List<LoraUse> loraUses() {
        List<LoraUse> uses = new ArrayList<>();
        for (String option : loras) {
            int colon = option.lastIndexOf(':');
            String file = option;
            double weight = 1.0;
            if (colon > 0) {
                try {
                    weight = Double.parseDouble(option.substring(colon + 1));
                    file = option.substring(0, colon);
                } catch (NumberFormatException e) {
                    // no weight: a path with a colon in it
                }
            }
            Path path = Path.of(file);
            String problem = RegularFiles.problem(path);
            if (problem != null) {
                throw new IllegalArgumentException("--lora " + option + ": " + path + " " + problem);
            }
            uses.add(LoraUse.of(path, weight));
        }
        return uses;
    }

    /** The three SDXL size-conditioning options; unset ones take diffusers' defaults. */
    SizeConditioning sizeConditioning() {
        int[] original = pair("--original-size", originalSize, "x");
        int[] crop = pair("--crop-top-left", cropTopLeft, ",");
        int[] target = pair("--target-size", targetSize, "x");
        return new SizeConditioning(original[0], original[1], crop[0], crop[1], target[0], target[1]);
    }

    /** "AxB" (or "A,B") as two non-negative ints; {0, 0} when absent. */
    private static int[] pair(String option, String value, String separator) {
        if (value == null) {
            return new int[2];
        }
        String[] parts = value.trim().split(java.util.regex.Pattern.quote(separator));
        try {
            if (parts.length == 2) {
                int a = Integer.parseInt(parts[0].trim());
                int b = Integer.parseInt(parts[1].trim());
                if (a >= 0 && b >= 0) {
                    return new int[]{a, b};
                }
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(option + " must be two non-negative whole numbers as A" + separator + "B, got '"
                + value + "'");
    }

    /**
     * The PNG names a single file by its SHA-256; the first run on a file reads it whole, once, and says so. The
     * hash is computed beside the preparation (1.7 s for a 2 GiB checkpoint on an H100 host, otherwise added to the
     * first image's latency) and awaited when the PNG is written.
     */
    private static void announceHashing(PrintWriter err, StableDiffusion model) {
        ModelIdentity id = model.identity();
        if (!id.hashKnown()) {
            err.printf("jdiffusion: hashing %s for the PNG's Model hash (once per file; remembered in %s)%n",
                    id.hashedFile().orElseThrow().getFileName(), id.hashCache().orElseThrow());
            id.hashInBackground();
        }
    }

    /** Cheap checks first, so a typo costs no model loading. */
    private void validateBeforeLoading() throws IOException {
        if (steps < 1 || steps > RequestLimits.MAX_STEPS) {
            throw new IllegalArgumentException("--steps must be in [1, " + RequestLimits.MAX_STEPS + "], got " + steps);
        }
        if (Math.max(prompt.length(), negativePrompt.length()) > RequestLimits.MAX_PROMPT_CHARS) {
            throw new IllegalArgumentException("--prompt and --negative-prompt may have at most " + RequestLimits.MAX_PROMPT_CHARS
                    + " characters, got " + Math.max(prompt.length(), negativePrompt.length()));
        }
        if (batchCount < 1) {
            throw new IllegalArgumentException("--batch-count must be at least 1, got " + batchCount);
        }
        choice = SamplerNames.resolve(sampler, schedule, karras);
        modelOptions.memoryBudgetBytes();
        try {
            RequestLimits.checkSize(width, height);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--width/--height: " + e.getMessage(), e);
        }
        if (initImage == null && spec.commandLine().getParseResult().hasMatchedOption("--strength")) {
            throw new IllegalArgumentException("--strength applies to image-to-image only: give --init-image too");
        }
        if (initImage != null && !(strength > 0 && strength <= 1)) {
            throw new IllegalArgumentException("--strength must be in (0, 1], got " + strength);
        }
        AtomicFile.checkWritable(output);
        if (saveLatents != null) {
            AtomicFile.checkWritable(saveLatents);
        }
        if (initImage != null && RegularFiles.problem(initImage) != null) {
            throw new IllegalArgumentException("--init-image " + initImage + ": " + RegularFiles.problem(initImage));
        }
        if (mask != null && initImage == null) {
            throw new IllegalArgumentException("--mask needs --init-image: the image to repaint");
        }
        if (inpaintFullRes && mask == null) {
            throw new IllegalArgumentException("--inpaint-full-res needs --mask and --init-image: it repaints the masked area");
        }
        if (!inpaintFullRes && spec.commandLine().getParseResult().hasMatchedOption("--inpaint-full-res-padding")) {
            throw new IllegalArgumentException("--inpaint-full-res-padding applies with --inpaint-full-res only");
        }
        if (inpaintFullResPadding < 0) {
            throw new IllegalArgumentException("--inpaint-full-res-padding must be 0 or more pixels, got " + inpaintFullResPadding);
        }
        if (maskBlur < 0) {
            throw new IllegalArgumentException("--mask-blur must be 0 or more pixels, got " + maskBlur);
        }
        if (mask != null && !Files.isRegularFile(mask)) {
            throw new NoSuchFileException(mask.toString(), null, "--mask not found");
        }
        initSource = initImage != null ? readImage("--init-image", initImage) : null;
        maskSource = mask != null ? readImage("--mask", mask) : null;
        if (maskSource != null && (maskSource.width() != initSource.width() || maskSource.height() != initSource.height())) {
            throw new IllegalArgumentException("--mask " + mask + " is " + maskSource.width() + "x" + maskSource.height()
                    + " but --init-image " + initImage + " is " + initSource.width() + "x" + initSource.height()
                    + ": they must be the same size");
        }
        modelOptions.precision();
        modelOptions.checkPredictionType();
        modelOptions.modelPath();
    }

    /** The sampler as the command line names it: "euler", "dpmpp_2m karras". */
    private static String describe(Sampler.Choice choice) {
        return choice.sampler().cliName() + (choice.schedule() == Schedule.DEFAULT ? "" : " " + choice.schedule().cliName());
    }

    /** An init image or mask, decoded with the size checks and PIL's RGB conversion of {@link ImageFiles}. */
    private static ImageFiles.Rgb readImage(String option, Path file) {
        return ImageFiles.read(file, option);
    }

    private static void writeImage(Path target, GenerationRequest request, GenerationResult result, StableDiffusion model,
                                   int w, int h, Integer maskBlur) throws IOException {
        String parameters = A1111Infotext.generation(request, model, w, h).put("Mask blur", maskBlur).build();
        PngWriter.write(target, BufferedImages.toBufferedImage(result.image()), Map.of("parameters", parameters));
    }

    private static void writeLatents(Path target, GenerationResult result) throws IOException {
        int channels = result.latents().length / (result.latentHeight() * result.latentWidth());
        try (Tensor t = Tensor.ofFloats(Shape.of(1, channels, result.latentHeight(), result.latentWidth()), result.latents())) {
            SafetensorsWriter.write(target, Map.of("latents", t), Map.of("seed", Long.toString(result.seed())));
        }
    }

    static Path withSeed(Path file, long seed) {
        String name = file.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String stem = dot > 0 ? name.substring(0, dot) : name;
        String ext = dot > 0 ? name.substring(dot) : "";
        return file.resolveSibling(stem + "-" + seed + ext);
    }
}
