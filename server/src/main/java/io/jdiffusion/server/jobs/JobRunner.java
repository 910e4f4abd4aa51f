package io.jdiffusion.server.jobs;

import io.jdiffusion.models.pipeline.GenerationRequest;
import io.jdiffusion.models.pipeline.PngWriter;
import io.jdiffusion.models.pipeline.ProgressListener;
import io.jdiffusion.server.api.GenerationRequests;
import io.jdiffusion.server.api.ImageJob;
import io.jdiffusion.server.api.InvalidRequestException;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * Runs one job's images in turn on the generator (seeds counting up from the first, as A1111), reporting
 * to the progress state and stopping where an interrupt, a skip or a gone client asks. Each image becomes a
 * PNG carrying A1111's parameters text, so saved files read back in other tools.
 */
public final class JobRunner {
    private static final SecureRandom SEEDS = new SecureRandom();

    private final ImageGenerator generator;
    private final ProgressState progress;

    public JobRunner(ImageGenerator generator, ProgressState progress) {
        this.generator = generator;
        this.progress = progress;
    }

    public ImageGenerator generator() {
        return generator;
    }

    public ProgressState progress() {
        return progress;
    }

    /**
     * Runs {@code job} on the calling thread, on the checkpoint it names (loaded for it, and the previous one
     * loaded again afterwards where it asks); {@code cancelled} says its client is gone.
     */
    JobResult run(ImageJob job, BooleanSupplier cancelled) {
        CheckpointFolder.Checkpoint before = generator.loaded();
        if (job.checkpoint() != null) {
            CheckpointFolder.Checkpoint wanted = generator.checkpoints().find(job.checkpoint())
                    .orElseThrow(() -> new InvalidRequestException(404, "override_settings.sd_model_checkpoint",
                            "checkpoint '" + job.checkpoint() + "' not found (it left the models folder)"));
            generator.load(wanted);
        }
        try {
            return runImages(job, cancelled);
        } finally {
            if (job.restoreCheckpoint() && !generator.loaded().equals(before)) {
                try {
                    generator.load(before);
                } catch (CheckpointLoadException e) {
                    // It loaded before; should it fail now, the job's checkpoint stays loaded and serves on.
                }
            }
        }
    }

    private JobResult runImages(ImageJob job, BooleanSupplier cancelled) {
        // A1111 draws random seeds below 2^32 - 1, which every other tool can type back in.
        long firstSeed = job.randomSeed() ? SEEDS.nextLong(4_294_967_294L) : job.request().sampling().seed();
        String timestamp = progress.beginJob(job.route().name().toLowerCase(java.util.Locale.ROOT), job.imageCount());
        List<byte[]> pngs = new ArrayList<>();
        List<Long> seeds = new ArrayList<>();
        List<String> infotexts = new ArrayList<>();
        List<String> warnings = new ArrayList<>(job.warnings());
        try {
            for (int i = 0; i < job.imageCount() && !progress.interrupted() && !cancelled.getAsBoolean(); i++) {
                long seed = firstSeed + i;
                progress.beginImage(i);
                GenerationRequest request = GenerationRequests.withSeed(job.request(), seed);
                ImageGenerator.Image image = generator.generate(request, job.infotext(), listener(cancelled));
                pngs.add(PngWriter.encode(image.pixels(), Map.of("parameters", image.infotext())));
                seeds.add(seed);
                infotexts.add(image.infotext());
                image.warnings().stream().filter(w -> !warnings.contains(w)).forEach(warnings::add);
            }
            return new JobResult(List.copyOf(pngs), List.copyOf(seeds), List.copyOf(infotexts), timestamp,
                    progress.interrupted(), List.copyOf(warnings), generator.model());
        } finally {
            progress.endJob();
        }
    }

    private ProgressListener listener(BooleanSupplier cancelled) {
        return new ProgressListener() {
            @Override
            public void started(int totalCalls) {
                progress.samplingStarted(totalCalls);
            }

            @Override
            public void latentsAfterStep(int index, float[] latents, int channels, int height, int width) {
                progress.stepDone(index, latents, channels, height, width);
            }

            @Override
            public boolean stopRequested() {
                return progress.stopRequested() || cancelled.getAsBoolean();
            }
        };
    }
}
