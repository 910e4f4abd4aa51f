package io.jdiffusion.server.jobs;

import io.jdiffusion.models.pipeline.PngWriter;

import java.awt.image.BufferedImage;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The running job as {@code /sdapi/v1/progress} reports it (A1111's shared.state): written by the queue's
 * worker, read by any number of HTTP threads. The latest latents are copied at each step; the preview PNG is
 * made from them only when asked for, and cached until the next step.
 */
public final class ProgressState {
    private static final DateTimeFormatter TIMESTAMP = DateTimeFormatter.ofPattern("yyyyMMddHHmmss");

    /** One reading, with A1111's fields. */
    public record Snapshot(double progress, double etaRelative, Map<String, Object> state, String currentImage,
                           String textinfo) {
    }

    private final java.util.function.Supplier<LatentPreview> preview;
    private String job = "";
    private String jobTimestamp = "0";
    private long startNanos;
    private int jobNo;
    private int jobCount;
    private int samplingStep;
    private int samplingSteps;
    private boolean interrupted;
    private boolean skipped;
    private float[] latents = new float[0];
    private int channels;
    private int latentHeight;
    private int latentWidth;
    private long latentVersion;
    private long previewVersion = -1;
    private String previewPng;

    /** @param preview the latent-to-RGB map of the loaded model's VAE */
    public ProgressState(java.util.function.Supplier<LatentPreview> preview) {
        this.preview = preview;
    }

    synchronized String beginJob(String name, int images) {
        job = name;
        jobTimestamp = LocalDateTime.now().format(TIMESTAMP);
        startNanos = System.nanoTime();
        jobNo = 0;
        jobCount = images;
        samplingStep = 0;
        samplingSteps = 0;
        interrupted = false;
        skipped = false;
        latentVersion++;
        channels = 0;
        return jobTimestamp;
    }

    synchronized void beginImage(int index) {
        jobNo = index;
        samplingStep = 0;
        skipped = false;
    }

    synchronized void samplingStarted(int steps) {
        samplingSteps = steps;
        samplingStep = 0;
    }

    synchronized void stepDone(int index, float[] current, int c, int h, int w) {
        samplingStep = index + 1;
        if (latents.length != current.length) {
            latents = new float[current.length];
        }
        System.arraycopy(current, 0, latents, 0, current.length);
        channels = c;
        latentHeight = h;
        latentWidth = w;
        latentVersion++;
    }

    synchronized void endJob() {
        job = "";
        jobCount = 0;
        jobNo = 0;
        samplingStep = 0;
        samplingSteps = 0;
        channels = 0;
        latentVersion++;
    }

    /** Stops the running job at its next step; the images not started are not made. */
    public synchronized void interrupt() {
        if (jobCount > 0) {
            interrupted = true;
        }
    }

    /** Stops the running image at its next step; the job goes on with its next image. */
    public synchronized void skip() {
        if (jobCount > 0) {
            skipped = true;
        }
    }

    synchronized boolean interrupted() {
        return interrupted;
    }

    synchronized boolean stopRequested() {
        return interrupted || skipped;
    }

    public Snapshot snapshot(boolean withImage) {
        float[] copy;
        int c;
        int h;
        int w;
        long version;
        Map<String, Object> state = new LinkedHashMap<>();
        double progress;
        double eta;
        synchronized (this) {
            state.put("skipped", skipped);
            state.put("interrupted", interrupted);
            state.put("stopping_generation", false);
            state.put("job", job);
            state.put("job_count", jobCount);
            state.put("job_timestamp", jobTimestamp);
            state.put("job_no", jobNo);
            state.put("sampling_step", samplingStep);
            state.put("sampling_steps", samplingSteps);
            if (jobCount == 0) {
                return new Snapshot(0, 0, state, null, null);
            }
            progress = 0.01 + (double) jobNo / jobCount;
            if (samplingSteps > 0) {
                progress += 1.0 / jobCount * samplingStep / samplingSteps;
            }
            double elapsed = (System.nanoTime() - startNanos) / 1e9;
            eta = elapsed / progress - elapsed;
            progress = Math.min(progress, 1);
            if (!withImage || channels == 0 || previewVersion == latentVersion) {
                return new Snapshot(progress, eta, state, withImage ? previewIfCurrent() : null, null);
            }
            copy = latents.clone();
            c = channels;
            h = latentHeight;
            w = latentWidth;
            version = latentVersion;
        }
        // Encoded outside the lock, so the worker never waits for a preview.
        BufferedImage image = preview.get().of(copy, c, h, w);
        String encoded = image == null ? null : Base64.getEncoder().encodeToString(PngWriter.encode(image, Map.of()));
        synchronized (this) {
            if (version == latentVersion) {
                previewVersion = version;
                previewPng = encoded;
            }
        }
        return new Snapshot(progress, eta, state, encoded, null);
    }

    private String previewIfCurrent() {
        return previewVersion == latentVersion ? previewPng : null;
    }
}
