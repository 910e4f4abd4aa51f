package io.jdiffusion.models.pipeline;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.DeviceTensor;
import io.jdiffusion.backend.Executable;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.clip.ClipTextEncoder;
import io.jdiffusion.models.rng.TorchGenerator;
import io.jdiffusion.models.scheduler.Scheduler;
import io.jdiffusion.models.scheduler.Schedulers;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.models.tokenizer.ClipTokenizer;
import io.jdiffusion.models.unet.UNet2DConditionModel;
import io.jdiffusion.models.vae.AutoencoderKL;
import io.jdiffusion.models.vae.DiagonalGaussian;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Text-to-image and image-to-image as diffusers' StableDiffusionPipeline and StableDiffusionImg2ImgPipeline
 * do it: prompts through tokenizer and text encoder, classifier-free guidance as one batch of two
 * [negative, prompt], the scheduler's loop over UNet calls, VAE decode. Networks run on one backend; each
 * network is compiled once per shape and replayed, and the prompt embeddings stay on the device for the
 * whole loop. Only latents (a few hundred KiB) cross to the host at each step, where the scheduler runs.
 */
public final class StableDiffusionPipeline implements AutoCloseable {
    private final StableDiffusion model;
    private final ClipTokenizer tokenizer;
    private final Backend backend;
    private final Precision precision;
    private final Map<String, Executable> executables = new HashMap<>();

    public StableDiffusionPipeline(StableDiffusion model, ClipTokenizer tokenizer, Backend backend, Precision precision) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.backend = backend;
        this.precision = precision;
    }

    public int defaultWidth() {
        return model.unet().sampleSize() * model.vae().downscaleFactor();
    }

    public int defaultHeight() {
        return defaultWidth();
    }

    /** Latent height and width for an image size. */
    public record LatentSize(int height, int width) {
    }

    /** The latent size of a {@code width} x {@code height} image; fails unless both divide by the VAE's factor. */
    public LatentSize latentSize(int width, int height) {
        int factor = model.vae().downscaleFactor();
        if (width % factor != 0 || height % factor != 0) {
            throw new IllegalArgumentException("size " + width + "x" + height + " is not a multiple of " + factor
                    + ", the model's latent downscale factor");
        }
        return new LatentSize(height / factor, width / factor);
    }

    public Backend backend() {
        return backend;
    }

    public StableDiffusion model() {
        return model;
    }

    /** Runs one whole generation. */
    public GenerationResult generate(GenerationRequest request, ProgressListener progress) {
        long start = System.nanoTime();
        int width = request.width() == 0 ? defaultWidth() : request.width();
        int height = request.height() == 0 ? defaultHeight() : request.height();
        LatentSize latent = latentSize(width, height);
        int h = latent.height();
        int w = latent.width();
        int channels = model.unet().inChannels();
        int latentSize = channels * h * w;
        List<String> warnings = new ArrayList<>();

        Scheduler scheduler = Schedulers.create(request.sampler(), model.schedulerConfig(), request.karras(), request.ddimEta());
        scheduler.setTimesteps(request.steps());
        TorchGenerator generator = new TorchGenerator(request.seed());
        boolean guided = request.usesGuidance();
        int batch = guided ? 2 : 1;

        long t0 = System.nanoTime();
        List<String> prompts = guided ? List.of(request.negativePrompt(), request.prompt()) : List.of(request.prompt());
        for (String p : prompts) {
            int length = tokenizer.untruncatedLength(p);
            if (length > tokenizer.maxLength()) {
                warnings.add("prompt truncated to " + tokenizer.maxLength() + " tokens (it has " + length + "): \""
                        + p.substring(0, Math.min(60, p.length())) + (p.length() > 60 ? "..." : "") + "\"");
            }
        }
        double vaeEncodeMs = 0;
        try (DeviceTensor context = encodeText(prompts)) {
            double textMs = millisSince(t0);

            float[] latents;
            int firstCall = 0;
            if (request.initImage() != null) {
                long te = System.nanoTime();
                float[] initLatents = encodeImage(request.initImage(), width, height, generator);
                vaeEncodeMs = millisSince(te);
                firstCall = Schedulers.img2imgStartIndex(scheduler, request.steps(), request.strength());
                float[] noise = generator.randn(latentSize);
                latents = scheduler.addNoise(initLatents, noise, firstCall);
            } else {
                float[] noise = request.initLatents() != null ? checkLatents(request.initLatents(), latentSize)
                        : generator.randn(latentSize);
                latents = new float[latentSize];
                float sigma = scheduler.initNoiseSigma();
                for (int i = 0; i < latentSize; i++) {
                    latents[i] = noise[i] * sigma;
                }
            }

            float[] timesteps = scheduler.timesteps();
            int calls = timesteps.length - firstCall;
            progress.started(calls);
            long tu = System.nanoTime();
            int callsMade = 0;
            for (int i = firstCall; i < timesteps.length && !progress.stopRequested(); i++) {
                float[] scaled = scheduler.scaleModelInput(latents, i);
                float[] noisePred = predictNoise(repeat(scaled, batch), timesteps[i], context, batch, h, w);
                float[] eps = guided ? guide(noisePred, latentSize, request.guidanceScale()) : noisePred;
                latents = scheduler.step(eps, i, latents, generator);
                callsMade++;
                progress.latentsAfterStep(i - firstCall, latents, channels, h, w);
                progress.stepDone(i - firstCall, calls);
            }
            double unetMs = millisSince(tu);
            progress.finished();

            long td = System.nanoTime();
            Tensor image = decodeLatents(latents, h, w);
            double decodeMs = millisSince(td);
            StageTimings timings = new StageTimings(textMs, vaeEncodeMs, unetMs, callsMade, decodeMs, millisSince(start));
            return new GenerationResult(image, latents, h, w, request.seed(), timings, List.copyOf(warnings));
        }
    }

    /** Prompt embeddings [prompts, tokens, hidden] on the device, in the order given. */
    public DeviceTensor encodeText(List<String> prompts) {
        int batch = prompts.size();
        ClipTextEncoder encoder = model.textEncoder();
        Executable exe = executable("text_encoder/" + batch, () -> encoder.graph(batch));
        int tokens = tokenizer.maxLength();
        long[] ids = new long[batch * tokens];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(tokenizer.encode(prompts.get(b)), 0, ids, b * tokens, tokens);
        }
        try (Tensor hostIds = Tensor.ofLongs(Shape.of(batch, tokens), ids);
             DeviceTensor deviceIds = backend.upload(hostIds)) {
            Graph g = exe.graph();
            DeviceTensor out = backend.allocate(g.outputs().get(0).shape(), DType.F32);
            exe.run(List.of(deviceIds), List.of(out));
            return out;
        }
    }

    /** One UNet call: {@code sample} holds {@code batch} latents [C, h, w] back to back; returns the noise prediction. */
    public float[] predictNoise(float[] sample, float timestep, DeviceTensor context, int batch, int h, int w) {
        UNet2DConditionModel unet = model.unet();
        int contextTokens = context.shape().size(1);
        Executable exe = executable("unet/" + batch + "/" + h + "x" + w + "/" + contextTokens,
                () -> unet.graph(batch, h, w, contextTokens));
        float[] t = new float[batch];
        java.util.Arrays.fill(t, timestep);
        try (Tensor hostSample = Tensor.ofFloats(Shape.of(batch, unet.inChannels(), h, w), sample);
             Tensor hostT = Tensor.ofFloats(Shape.of(batch), t);
             DeviceTensor dSample = backend.upload(hostSample);
             DeviceTensor dT = backend.upload(hostT);
             DeviceTensor out = backend.allocate(exe.graph().outputs().get(0).shape(), DType.F32);
             Tensor result = Tensor.allocate(out.shape(), DType.F32)) {
            exe.run(List.of(dSample, dT, context), List.of(out));
            backend.download(out, result);
            return result.toFloatArray();
        }
    }

    /** VAE decode of final latents (before division by the scaling factor) to an image [1, 3, H, W] in [0, 1]. */
    public Tensor decodeLatents(float[] latents, int h, int w) {
        AutoencoderKL vae = model.vae();
        Executable exe = executable("vae_decoder/" + h + "x" + w, () -> vae.decoderGraph(1, h, w));
        float[] z = new float[latents.length];
        float inv = 1f / vae.scalingFactor();
        for (int i = 0; i < z.length; i++) {
            z[i] = latents[i] * inv;
        }
        try (Tensor hostZ = Tensor.ofFloats(Shape.of(1, vae.latentChannels(), h, w), z);
             DeviceTensor dz = backend.upload(hostZ);
             DeviceTensor out = backend.allocate(exe.graph().outputs().get(0).shape(), DType.F32)) {
            exe.run(List.of(dz), List.of(out));
            Tensor image = backend.download(out);
            Images.toUnitRange(image);
            return image;
        }
    }

    /**
     * VAE encode for image-to-image: {@code image} [1, 3, H, W] in [0, 1] becomes latents sampled from the
     * posterior (mean + std * randn from {@code generator}) times the scaling factor, as diffusers' img2img.
     */
    public float[] encodeImage(Tensor image, int width, int height, TorchGenerator generator) {
        if (image.shape().rank() != 4 || image.shape().dim(1) != 3 || image.shape().dim(2) != height || image.shape().dim(3) != width) {
            throw new IllegalArgumentException("init image must be [1, 3, " + height + ", " + width + "], got " + image.shape());
        }
        AutoencoderKL vae = model.vae();
        Executable exe = executable("vae_encoder/" + height + "x" + width, () -> vae.encoderGraph(1, height, width));
        try (Tensor signed = Images.toSignedRange(image);
             DeviceTensor dImage = backend.upload(signed);
             DeviceTensor mean = backend.allocate(exe.graph().outputs().get(0).shape(), DType.F32);
             DeviceTensor logvar = backend.allocate(exe.graph().outputs().get(1).shape(), DType.F32)) {
            exe.run(List.of(dImage), List.of(mean, logvar));
            try (Tensor hostMean = backend.download(mean);
                 Tensor hostLogvar = backend.download(logvar);
                 DiagonalGaussian posterior = new DiagonalGaussian(hostMean, hostLogvar);
                 Tensor noise = Tensor.ofFloats(hostMean.shape(), generator.randn(Math.toIntExact(hostMean.elementCount())));
                 Tensor sample = posterior.sample(noise)) {
                float[] latents = sample.toFloatArray();
                for (int i = 0; i < latents.length; i++) {
                    latents[i] *= vae.scalingFactor();
                }
                return latents;
            }
        }
    }

    /**
     * What the network calls compiled so far compute in: F16 if any of them does (a backend without F16
     * computes an F16 request in F32 and says so), F32 otherwise or before any call.
     */
    public Precision precisionUsed() {
        return executables.values().stream().anyMatch(e -> e.precision() == Precision.F16) ? Precision.F16 : Precision.F32;
    }

    /** The precision asked for at construction. */
    public Precision precisionRequested() {
        return precision;
    }

    /** Compiles a graph the first time a shape is asked for, then reuses it. */
    private Executable executable(String key, Supplier<Graph> graph) {
        return executables.computeIfAbsent(key, k -> backend.compile(graph.get(), precision));
    }

    /** Classifier-free guidance on a [uncond, cond] batch: u + g (c - u). */
    static float[] guide(float[] noisePred, int latentSize, float scale) {
        float[] eps = new float[latentSize];
        for (int i = 0; i < latentSize; i++) {
            float u = noisePred[i];
            float c = noisePred[latentSize + i];
            eps[i] = u + scale * (c - u);
        }
        return eps;
    }

    private static float[] repeat(float[] x, int times) {
        if (times == 1) {
            return x;
        }
        float[] out = new float[x.length * times];
        for (int i = 0; i < times; i++) {
            System.arraycopy(x, 0, out, i * x.length, x.length);
        }
        return out;
    }

    private static float[] checkLatents(float[] latents, int expected) {
        if (latents.length != expected) {
            throw new IllegalArgumentException("initial latents hold " + latents.length + " values, the size needs " + expected);
        }
        return latents;
    }

    private static double millisSince(long nanos) {
        return (System.nanoTime() - nanos) / 1e6;
    }

    /** Frees the compiled networks (and their device buffers); the model stays open. */
    @Override
    public void close() {
        executables.values().forEach(Executable::close);
        executables.clear();
    }
}
