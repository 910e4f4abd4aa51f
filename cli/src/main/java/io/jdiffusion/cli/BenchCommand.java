package io.jdiffusion.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.models.conditioning.Conditioning;
import io.jdiffusion.models.conditioning.ConditioningInput;
import io.jdiffusion.cli.bench.OpsBenchCommand;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.pipeline.GenerationRequest;
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
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.function.Supplier;

/**
 * {@code jdiffusion bench}: times each stage of the pipeline on a backend. Without --model it builds the
 * full-size architecture of {@code --model-type} (SD 1.5, SD 2.1 or SDXL base) with seeded random weights (no
 * files needed), so any machine can measure the real cost. Each stage runs once untimed (compilation, weight
 * packing) before the timed runs.
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

    @Option(names = {"-W", "--width"}, defaultValue = "512", description = "Image width (default ${DEFAULT-VALUE}).")
    int width;

    @Option(names = {"-H", "--height"}, defaultValue = "512", description = "Image height (default ${DEFAULT-VALUE}).")
    int height;

    @Option(names = "--batch", defaultValue = "2", description = "UNet and text-encoder batch (2 = one image with guidance; default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--steps", defaultValue = "20", description = "Steps of the whole-pipeline run; 0 skips it (default ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--sampler", defaultValue = "euler", description = "Sampler of the whole-pipeline run (default ${DEFAULT-VALUE}).")
    String sampler;

    @Option(names = "--warmup", defaultValue = "1", description = "Untimed runs of each stage first (default ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--iterations", defaultValue = "3", description = "Timed runs of each stage; the median is reported (default ${DEFAULT-VALUE}).")
    int iterations;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the random weights and latents (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--json", description = "Print one JSON object instead of a table.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        if (batch < 1 || batch > 2 || iterations < 1 || warmup < 0 || steps < 0) {
            throw new IllegalArgumentException("--batch must be 1 (no guidance) or 2 (guidance), --iterations >= 1, "
                    + "--warmup and --steps >= 0");
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        ModelOptions mo = modelOptions;
        long loadStart = System.nanoTime();
        boolean random = mo.model == null;
        // The random model has no tokenizer files; the bundled tiny tokenizer's ids are valid CLIP ids.
        try (StableDiffusion model = random ? randomModel()
                : mo.load();
             Backend backend = mo.createBackend()) {
            double loadMs = (System.nanoTime() - loadStart) / 1e6;
            try (StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model, backend, mo.precision())) {
                StableDiffusionPipeline.LatentSize latent = pipeline.latentSize(width, height);
                int h = latent.height();
                int w = latent.width();
                err.printf("bench: %s on %s (%s), %dx%d, batch %d, %s%n", model.description(), backend.name(),
                        backend.deviceDescription(), width, height, batch, mo.precision());
                ConditioningInput prompts = new ConditioningInput(PROMPT, "", batch == 2, width, height);

                double textMs = time("text encoder", err, () -> {
                    pipeline.encodePrompt(prompts).close();
                    return null;
                });
                float[] sample = new float[batch * model.unet().inChannels() * h * w];
                SplittableRandom r = new SplittableRandom(seed);
                for (int i = 0; i < sample.length; i++) {
                    sample[i] = (float) r.nextGaussian();
                }
                double unetMs;
                try (Conditioning conditioning = pipeline.encodePrompt(prompts)) {
                    unetMs = time("UNet call", err, () -> pipeline.predictNoise(sample, 500f, conditioning, h, w));
                }
                float[] latents = new float[model.vae().latentChannels() * h * w];
                System.arraycopy(sample, 0, latents, 0, latents.length);
                double vaeMs = time("VAE decode", err, () -> {
                    pipeline.decodeLatents(latents, h, w).close();
                    return null;
                });
                double pipelineMs = -1;
                if (steps > 0) {
                    GenerationRequest request = GenerationRequest.builder().prompt(PROMPT).seed(seed)
                            .sampler(sampler).steps(steps).size(width, height).build();
                    long t0 = System.nanoTime();
                    try (GenerationResult result = pipeline.generate(request, ProgressListener.NONE)) {
                        pipelineMs = (System.nanoTime() - t0) / 1e6;
                        err.printf("bench: pipeline %d steps: %s%n", steps, RunSummary.describe(result.timings(), backend));
                    }
                }
                report(out, model, backend, pipeline.precisionUsed(), loadMs, textMs, unetMs, vaeMs, pipelineMs);
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
        DType storage = configs.isSdxl() ? DType.F16 : DType.F32;
        return StableDiffusion.random(configs, seed, storage, TinySd.modelDir().resolve("tokenizer"));
    }

    private double time(String stage, PrintWriter err, Supplier<Object> body) {
        for (int i = 0; i < warmup; i++) {
            body.get();
        }
        List<Double> ms = new ArrayList<>();
        for (int i = 0; i < iterations; i++) {
            long t0 = System.nanoTime();
            body.get();
            ms.add((System.nanoTime() - t0) / 1e6);
        }
        Collections.sort(ms);
        double median = ms.get(ms.size() / 2);
        err.printf(Locale.ROOT, "bench: %-12s median %.1f ms of %s%n", stage, median, ms);
        return median;
    }

    private void report(PrintWriter out, StableDiffusion model, Backend backend, Precision used, double loadMs, double textMs,
                        double unetMs, double vaeMs, double pipelineMs) throws Exception {
        if (json) {
            ObjectNode o = new ObjectMapper().createObjectNode();
            o.put("model", model.description());
            o.put("backend", backend.name());
            o.put("device", backend.deviceDescription());
            o.put("precision", modelOptions.precision().name().toLowerCase(Locale.ROOT));
            o.put("precision_used", used.name().toLowerCase(Locale.ROOT));
            o.put("width", width).put("height", height).put("batch", batch).put("steps", steps);
            o.put("load_ms", loadMs).put("text_encoder_ms", textMs).put("unet_ms", unetMs).put("vae_decode_ms", vaeMs);
            if (pipelineMs >= 0) {
                o.put("pipeline_ms", pipelineMs);
            }
            o.put("peak_rss_bytes", RunSummary.peakRssBytes());
            o.put("peak_heap_bytes", RunSummary.peakHeapBytes());
            o.put("peak_offheap_bytes", Tensor.peakLiveBytes());
            o.put("peak_device_bytes", backend.peakDeviceBytes());
            out.println(new ObjectMapper().writeValueAsString(o));
            return;
        }
        out.printf(Locale.ROOT, "%-24s %12s%n", "precision computed", used.name().toLowerCase(Locale.ROOT));
        out.printf(Locale.ROOT, "%-24s %12s%n", "stage", "ms");
        out.printf(Locale.ROOT, "%-24s %12.1f%n", "load / build weights", loadMs);
        out.printf(Locale.ROOT, "%-24s %12.1f%n", "text encoder (batch " + batch + ")", textMs);
        out.printf(Locale.ROOT, "%-24s %12.1f%n", "UNet call (batch " + batch + ")", unetMs);
        out.printf(Locale.ROOT, "%-24s %12.1f%n", "VAE decode", vaeMs);
        if (pipelineMs >= 0) {
            out.printf(Locale.ROOT, "%-24s %12.1f%n", "pipeline (" + steps + " steps)", pipelineMs);
        }
        out.printf(Locale.ROOT, "peak RSS %s, heap %s, off-heap %s, device %s%n", RunSummary.mib(RunSummary.peakRssBytes()),
                RunSummary.mib(RunSummary.peakHeapBytes()), RunSummary.mib(Tensor.peakLiveBytes()), RunSummary.mib(backend.peakDeviceBytes()));
    }
}
