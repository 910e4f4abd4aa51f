package io.jdiffusion.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.HeapAllocation;
import io.jdiffusion.backend.OperatorProfile;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.models.conditioning.Conditioning;
import io.jdiffusion.models.conditioning.ConditioningInput;
import io.jdiffusion.cli.bench.OpsBenchCommand;
import io.jdiffusion.core.DType;
import io.jdiffusion.models.pipeline.GenerationRequest;
import io.jdiffusion.models.pipeline.Network;
import io.jdiffusion.models.pipeline.GenerationResult;
import io.jdiffusion.models.pipeline.ProgressListener;
import io.jdiffusion.models.pipeline.StableDiffusionPipeline;
import io.jdiffusion.models.sd.ModelConfigs;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.testdata.TinySd;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.function.Supplier;

/**
 * {@code jdiffusion bench}: times each stage of the pipeline on a backend. Without --model it builds the
 * full-size architecture of {@code --model-type} (SD 1.5, SD 2.1 or SDXL base) with seeded random weights (no
 * files needed), so any machine can measure the real cost. With --steps, the whole pipeline runs first, cold,
 * as a user's first image does; the stages are then timed warm, and the pipeline again: cold less warm is the
 * preparation (compilation, weight packing, Winograd transforms, GPU JIT and upload), reported on its own with
 * the time to the first image from process start.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        subcommands = OpsBenchCommand.class,
        description = "Benchmark the pipeline stages (text encoder, one UNet call, VAE decode, whole pipeline); 'bench ops' times single operators.")
final class BenchCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    private static final String PROMPT = "a photograph of an astronaut riding a horse";

    @Option(names = "--model-type", defaultValue = "sd15", paramLabel = "sd15|sd21|sdxl",
            description = "Architecture of the random model used without --model: sd15 (F32 weights), sd21 (768-v, F32) "
                    + "or sdxl (base 1.0, F16 weights: 2.6B UNet parameters) (default ${DEFAULT-VALUE}).")
    String modelType;

    @Option(names = "--random-weights", paramLabel = "f32|f16|bf16",
            description = "Storage precision of the random model's weights, as a checkpoint of that precision would "
                    + "hold them (default: f32 for sd15 and sd21, f16 for sdxl). Ignored with --model.")
    String randomWeights;

    @Option(names = {"-W", "--width"}, defaultValue = "512", description = "Image width (default ${DEFAULT-VALUE}).")
    int width;

    @Option(names = {"-H", "--height"}, defaultValue = "512", description = "Image height (default ${DEFAULT-VALUE}).")
    int height;

    @Option(names = "--batch", defaultValue = "2", description = "UNet and text-encoder batch (2 = one image with guidance; default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--steps", defaultValue = "20", description = "Steps of the whole-pipeline run; 0 skips it (default ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--sampler", defaultValue = "euler", completionCandidates = SamplerNames.class,
            description = "Sampler of the whole-pipeline run: ${COMPLETION-CANDIDATES} (default ${DEFAULT-VALUE}).")
    String sampler;

    @Option(names = "--warmup", defaultValue = "1", description = "Untimed runs of each stage first, the cold first call included "
            + "(default ${DEFAULT-VALUE}; 0: the cold call only, whatever --warmup-seconds says).")
    int warmup;

    @Option(names = "--warmup-seconds", defaultValue = "5", description = "With --warmup 1 or more, keep warming each stage until its "
            + "untimed calls after the cold one took this long: the JIT compiles a stage's kernels over its first calls, and a "
            + "fast stage needs many (the CPU text encoder: 245-270 ms a call after one, 141-157 ms after 2 s, 96-102 ms after 5 s "
            + "on two threads; default ${DEFAULT-VALUE}).")
    double warmupSeconds;

    @Option(names = "--iterations", defaultValue = "3", description = "Timed runs of each stage; the median is reported (default ${DEFAULT-VALUE}).")
    int iterations;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the random weights and latents (default ${DEFAULT-VALUE}).")
    long seed;

    @Mixin
    VaeTilingOption vaeTiling;

    @Option(names = "--stages", split = ",", defaultValue = "text,unet,vae", paramLabel = "text,unet,vae",
            description = "Stages to time (default all; e.g. --stages vae --vae-tiling on --width 2048 --height 2048 measures a tiled decode alone).")
    List<String> stages;

    @Option(names = "--json", description = "Print one JSON object instead of a table.")
    boolean json;

    @Option(names = "--profile", description = "Time every operator of the timed stage calls and print the time per "
            + "operator kind and shape (each operator's fastest call; wall time and the calling thread's CPU time, "
            + "all of the work with -Djdiffusion.cpu.threads=1).")
    boolean profile;

    /** Per stage, the operator profile of its timed calls (with --profile). */
    private final Map<String, List<OperatorProfile.Row>> profiles = new LinkedHashMap<>();

    @Override
    public Integer call() throws Exception {
        if (batch < 1 || batch > 2 || iterations < 1 || warmup < 0 || steps < 0 || !(warmupSeconds >= 0 && warmupSeconds <= 3600)) {
            throw new IllegalArgumentException("--batch must be 1 (no guidance) or 2 (guidance), --iterations >= 1, "
                    + "--warmup and --steps >= 0, --warmup-seconds from 0 to 3600");
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        ModelOptions mo = modelOptions;
        mo.memoryBudgetBytes();
        randomWeightsDType(); // a bad value fails before the model is built
        profiles.clear();
        long loadStart = System.nanoTime();
        boolean random = mo.model == null;
        // The random model has no tokenizer files; the bundled tiny tokenizer's ids are valid CLIP ids.
        try (StableDiffusion model = random ? randomModel()
                : mo.load();
             Backend backend = mo.createBackend()) {
            Figures f = new Figures();
            f.loadMs = (System.nanoTime() - loadStart) / 1e6;
            try (StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model, backend, mo.precision(),
                    mo.memoryPolicy(model))) {
                StableDiffusionPipeline.LatentSize latent = pipeline.latentSize(width, height);
                int h = latent.height();
                int w = latent.width();
                err.printf("bench: %s on %s (%s), %dx%d, batch %d, %s%n", model.description(), backend.name(),
                        backend.deviceDescription(), width, height, batch, mo.precision());
                f.memoryPolicy = pipeline.memoryPolicy().describe();
                err.println("bench: memory: " + f.memoryPolicy);
                GenerationRequest request = GenerationRequest.builder().prompt(PROMPT).seed(seed)
                        .sampler(sampler).steps(Math.max(steps, 1)).size(width, height).vaeTiling(vaeTiling.mode()).build();
                if (steps > 0) {
                    // the first image, as a user meets it: preparation (compilation, weight packing, JIT,
                    // upload) included; the same run once warm, after the stage timings, isolates preparation
                    f.coldPipelineMs = pipelineRun(pipeline, request, err, "first (cold)");
                    f.firstImageMs = RunSummary.sinceProcessStartMs();
                }
                ConditioningInput prompts = new ConditioningInput(PROMPT, "", batch == 2, width, height);
                for (String s : stages) {
                    if (!List.of("text", "unet", "vae").contains(s)) {
                        throw new IllegalArgumentException("--stages takes text, unet and vae, got '" + s + "'");
                    }
                }
                Stage text = !stages.contains("text") ? Stage.SKIPPED : time("text encoder", backend, err, () -> {
                    pipeline.encodePrompt(prompts).close();
                    return null;
                });
                Conditioning unetConditioning = stages.contains("unet") ? pipeline.encodePrompt(prompts) : null;
                stageDone(pipeline, Network.TEXT_ENCODERS, "text", f);
                float[] sample = new float[batch * model.unet().inChannels() * h * w];
                SplittableRandom r = new SplittableRandom(seed);
                for (int i = 0; i < sample.length; i++) {
                    sample[i] = (float) r.nextGaussian();
                }
                Stage unet = Stage.SKIPPED;
                if (unetConditioning != null) {
                    try (Conditioning conditioning = unetConditioning) {
                        unet = time("UNet call", backend, err, () -> pipeline.predictNoise(sample, 500f, conditioning, h, w));
                    }
                }
                stageDone(pipeline, Network.UNET, "unet", f);
                float[] latents = new float[model.vae().latentChannels() * h * w];
                System.arraycopy(sample, 0, latents, 0, latents.length);
                Stage vae = !stages.contains("vae") ? Stage.SKIPPED : time("VAE decode", backend, err, () -> {
                    pipeline.decodeLatents(latents, h, w, vaeTiling.mode()).close();
                    return null;
                });
                stageDone(pipeline, Network.VAE_DECODER, "vae", f);
                f.textMs = text.medianMs;
                f.unetMs = unet.medianMs;
                f.vaeMs = vae.medianMs;
                f.stages.put("text", text);
                f.stages.put("unet", unet);
                f.stages.put("vae", vae);
                if (steps > 0) {
                    f.pipelineMs = pipelineRun(pipeline, request, err, "warm");
                    f.preparationMs = Math.max(0, f.coldPipelineMs - f.pipelineMs);
                } else {
                    // no pipeline run: each stage's first call less its median is its preparation
                    f.preparationMs = text.preparationMs() + unet.preparationMs() + vae.preparationMs();
                }
                report(out, model, backend, pipeline.precisionUsed(), f);
            }
        }
        return 0;
    }

    /** The full-size random model of --model-type; the bundled tiny tokenizer's ids are valid CLIP ids. */
    private StableDiffusion randomModel() {
        ModelConfigs configs = switch (modelType) {
            case "sd15" -> ModelConfigs.sd15();
            case "sd21" -> ModelConfigs.sd21();
            case "sdxl" -> ModelConfigs.sdxl();
            default -> throw new IllegalArgumentException("--model-type must be sd15, sd21 or sdxl, got '" + modelType + "'");
        };
        // SDXL's 3.5B parameters in F32 (14 GB) do not fit a small machine; its weights stay F16 and are widened where used
        DType storage = randomWeightsDType();
        if (storage == null) {
            storage = configs.isSdxl() ? DType.F16 : DType.F32;
        }
        return StableDiffusion.random(configs, seed, storage, TinySd.modelDir().resolve("tokenizer"));
    }

    /** --random-weights as a storage type; null when not given (each architecture's default). */
    private DType randomWeightsDType() {
        return randomWeights == null ? null : switch (randomWeights.toLowerCase(Locale.ROOT)) {
            case "f32" -> DType.F32;
            case "f16" -> DType.F16;
            case "bf16" -> DType.BF16;
            default -> throw new IllegalArgumentException("--random-weights must be f32, f16 or bf16, got '" + randomWeights + "'");
        };
    }

    /** The figures a bench reports, in milliseconds; -1 where not measured. */
    private static final class Figures {
        double loadMs;
        double preparationMs;
        double firstImageMs = -1;
        double coldPipelineMs = -1;
        double textMs;
        double unetMs;
        double vaeMs;
        /** Each stage's calls: heap bytes per timed call, untimed calls (the JSON's per-stage maps). */
        final Map<String, Stage> stages = new LinkedHashMap<>();
        double pipelineMs = -1;
        String memoryPolicy;
        /** Where memory was at the end of each stage, before a staged memory policy freed its network. */
        final Map<String, Map<String, Long>> stageMemory = new LinkedHashMap<>();
    }

    /** Records where memory is as {@code stage} ends, then ends the network's stage (freeing it under a staged policy). */
    private void stageDone(StableDiffusionPipeline pipeline, Network network, String stage, Figures f) {
        if (stages.contains(stage)) {
            f.stageMemory.put(stage, RunSummary.memoryBreakdown(pipeline.backend()));
        }
        pipeline.finishedWith(network);
    }

    private double pipelineRun(StableDiffusionPipeline pipeline, GenerationRequest request, PrintWriter err, String which) {
        long t0 = System.nanoTime();
        try (GenerationResult result = pipeline.generate(request, ProgressListener.NONE)) {
            double ms = (System.nanoTime() - t0) / 1e6;
            err.printf(Locale.ROOT, "bench: pipeline %s, %d steps: %s%n", which, steps, RunSummary.describe(result.timings(), pipeline.backend()));
            return ms;
        }
    }

    /**
     * One stage's first (cold) call, the median of its timed calls, the median Java heap bytes a timed call
     * allocated over all threads (-1 where not counted), and its untimed calls, the first included.
     */
    private record Stage(double firstMs, double medianMs, long allocatedBytes, int warmupCalls) {
        /** A stage left out by --stages: -1 ms, no preparation. */
        static final Stage SKIPPED = new Stage(-1, -1, -1, 0);

        double preparationMs() {
            return Math.max(0, firstMs - medianMs);
        }
    }

    private Stage time(String stage, Backend backend, PrintWriter err, Supplier<Object> body) {
        long c0 = System.nanoTime();
        body.get();
        double first = (System.nanoTime() - c0) / 1e6;
        int calls = 1;
        long warm0 = System.nanoTime();
        while (calls < warmup || (warmup > 0 && System.nanoTime() - warm0 < warmupSeconds * 1e9)) {
            body.get();
            calls++;
        }
        OperatorProfile operators = new OperatorProfile();
        if (profile && !backend.profileOperators(operators)) {
            throw new IllegalArgumentException("--profile: backend '" + backend.name() + "' cannot time its operators");
        }
        List<Double> ms = new ArrayList<>();
        List<Long> allocated = new ArrayList<>();
        try {
            for (int i = 0; i < iterations; i++) {
                HeapAllocation allocation = HeapAllocation.sinceForAllThreads(); // the backend's workers exist since the first call
                long t0 = System.nanoTime();
                body.get();
                ms.add((System.nanoTime() - t0) / 1e6);
                allocated.add(allocation.bytes());
            }
        } finally {
            if (profile) {
                backend.profileOperators(null);
                profiles.put(stage, operators.rows());
            }
        }
        // In call order, not sorted: a drift over the calls (a recompiled kernel, a heap that grows) shows there.
        List<String> msInOrder = ms.stream().map(t -> String.format(Locale.ROOT, "%.1f", t)).toList();
        List<Long> inOrder = List.copyOf(allocated);
        Collections.sort(ms);
        Collections.sort(allocated);
        double median = ms.get(ms.size() / 2);
        long medianAllocated = allocated.get(allocated.size() / 2);
        err.printf(Locale.ROOT, "bench: %-12s first %.1f ms, %d untimed calls, median %.1f ms, in call order %s%n", stage, first, calls,
                median, msInOrder);
        err.printf(Locale.ROOT, "bench: %-12s heap allocated per call, median %.2f MB, in call order %s%n", stage,
                medianAllocated / 1e6, inOrder.stream().map(b -> String.format(Locale.ROOT, "%.2f", b / 1e6)).toList());
        return new Stage(first, median, medianAllocated, calls);
    }

    private void report(PrintWriter out, StableDiffusion model, Backend backend, Precision used, Figures f) {
        if (json) {
            ObjectNode o = RunSummary.jsonRun(model.description(), backend, modelOptions.precision(), used, width, height, steps,
                    vaeTiling.mode());
            o.put("batch", batch);
            RunSummary.jsonStartup(o, f.loadMs, f.preparationMs, f.firstImageMs);
            if (f.firstImageMs >= 0) {
                o.put("cold_pipeline_ms", f.coldPipelineMs);
            }
            o.put("text_encoder_ms", f.textMs).put("unet_ms", f.unetMs).put("vae_decode_ms", f.vaeMs);
            ObjectNode heap = o.putObject("heap_allocated_bytes_per_call");
            ObjectNode warm = o.putObject("warmup_calls");
            f.stages.forEach((stage, s) -> {
                heap.put(stage, s.allocatedBytes());
                warm.put(stage, s.warmupCalls());
            });
            if (f.pipelineMs >= 0) {
                o.put("pipeline_ms", f.pipelineMs);
            }
            RunSummary.jsonMemory(o, backend, f.memoryPolicy);
            ObjectNode byStage = o.putObject("memory_bytes_at_stage_end");
            f.stageMemory.forEach((stage, m) -> m.forEach(byStage.putObject(stage)::put));
            if (profile) {
                ObjectNode p = o.putObject("profile");
                profiles.forEach((stage, rows) -> {
                    var array = p.putArray(stage);
                    rows.forEach(r -> array.addObject().put("kind", r.kind()).put("operators", r.operators())
                            .put("wall_ms", r.wallMs()).put("cpu_ms", r.cpuMs()));
                });
            }
            out.println(RunSummary.json(o));
            return;
        }
        out.printf(Locale.ROOT, "%-40s %12s%n", "precision computed", RunSummary.lower(used));
        out.printf(Locale.ROOT, "%-40s %12s%n", "stage", "ms");
        out.printf(Locale.ROOT, "%-40s %12.1f%n", "load / build weights", f.loadMs);
        out.printf(Locale.ROOT, "%-40s %12.1f%n", "preparation (compile, pack, JIT, upload)", f.preparationMs);
        if (f.firstImageMs >= 0) {
            out.printf(Locale.ROOT, "%-40s %12.1f%n", "first image, cold (" + steps + " steps)", f.coldPipelineMs);
            out.printf(Locale.ROOT, "%-40s %12.1f%n", "first image since process start", f.firstImageMs);
        }
        out.printf(Locale.ROOT, "%-40s %12.1f%n", "text encoder (batch " + batch + ")", f.textMs);
        out.printf(Locale.ROOT, "%-40s %12.1f%n", "UNet call (batch " + batch + ")", f.unetMs);
        out.printf(Locale.ROOT, "%-40s %12.1f%n", "VAE decode", f.vaeMs);
        if (f.pipelineMs >= 0) {
            out.printf(Locale.ROOT, "%-40s %12.1f%n", "pipeline, warm (" + steps + " steps)", f.pipelineMs);
        }
        out.println(RunSummary.memory(backend));
        out.println(RunSummary.describeMemory(backend));
        out.println("memory policy: " + f.memoryPolicy);
        f.stageMemory.forEach((stage, m) -> out.println("at the end of " + stage + ":" + RunSummary.describe(m)));
        profiles.forEach((stage, rows) -> printProfile(out, stage, rows));
    }

    /** One stage's operator profile: per kind, the operators of one call and their summed fastest times. */
    private static void printProfile(PrintWriter out, String stage, List<OperatorProfile.Row> rows) {
        double cpu = rows.stream().mapToDouble(OperatorProfile.Row::cpuMs).sum();
        double wall = rows.stream().mapToDouble(OperatorProfile.Row::wallMs).sum();
        out.printf(Locale.ROOT, "%nprofile of the %s (each operator's fastest call; CPU time of the calling thread)%n", stage);
        out.printf(Locale.ROOT, "%-44s %9s %10s %10s %7s%n", "kind", "operators", "cpu ms", "wall ms", "share");
        for (OperatorProfile.Row r : rows) {
            out.printf(Locale.ROOT, "%-44s %9d %10.2f %10.2f %6.1f%%%n", r.kind(), r.operators(), r.cpuMs(), r.wallMs(),
                    100 * r.cpuMs() / cpu);
        }
        out.printf(Locale.ROOT, "%-44s %9d %10.2f %10.2f%n", "total", rows.stream().mapToInt(OperatorProfile.Row::operators).sum(),
                cpu, wall);
    }
}
