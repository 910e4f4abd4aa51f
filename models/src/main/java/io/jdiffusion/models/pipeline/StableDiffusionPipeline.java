package io.jdiffusion.models.pipeline;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.DeviceTensor;
import io.jdiffusion.backend.Executable;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.graph.BufferPlan;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.conditioning.Conditioning;
import io.jdiffusion.models.conditioning.ConditioningInput;
import io.jdiffusion.models.conditioning.TextConditioner;
import io.jdiffusion.models.lora.AdaptedNetworks;
import io.jdiffusion.models.lora.LoraNetworks;
import io.jdiffusion.models.lora.LoraRequest;
import io.jdiffusion.models.rng.TorchGenerator;
import io.jdiffusion.models.scheduler.Sampler;
import io.jdiffusion.models.scheduler.Scheduler;
import io.jdiffusion.models.scheduler.Schedulers;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.models.unet.AddedInput;
import io.jdiffusion.models.unet.UNet2DConditionModel;
import io.jdiffusion.models.unet.UNetCall;
import io.jdiffusion.models.vae.AutoencoderKL;
import io.jdiffusion.models.vae.DiagonalGaussian;
import io.jdiffusion.models.vae.TiledDecoding;

import java.util.ArrayList;
import java.util.List;

/**
 * Text-to-image and image-to-image as diffusers' StableDiffusionPipeline and StableDiffusionImg2ImgPipeline
 * do it: prompts through the model's text conditioner, classifier-free guidance as one batch of two
 * [negative, prompt], the scheduler's loop over UNet calls, VAE decode. Networks run on one backend; each
 * network is compiled once per shape and replayed (see {@link NetworkRunner}), and the conditioning stays on
 * the device for the whole loop. Only latents (a few hundred KiB) cross to the host at each step, where the scheduler runs.
 *
 * <p><b>Ownership:</b> the pipeline owns the executables it compiles and frees them in {@link #close()}; the
 * model and the backend stay the caller's, and outlive the pipeline. <b>Threads:</b> one generation at a time:
 * a compiled network runs one call at a time, so callers that serve several clients queue their requests
 * (as the server does) or build one pipeline per thread. Reusing one pipeline for many images is what makes
 * the second image fast: each shape is compiled once.
 */
public final class StableDiffusionPipeline implements AutoCloseable {
    private final StableDiffusion model;
    private final NetworkRunner runner;
    private final LoraNetworks loraNetworks;
    private final MemoryPolicy memoryPolicy;

    /**
     * A pipeline on {@code backend}; it compiles each network shape on first use and keeps it until closed.
     * Networks with LoRAs merged are compiled once per LoRA set and context length, beside the base networks.
     * Nothing is compiled here.
     *
     * @param model     the loaded model; it must stay open while the pipeline lives
     * @param backend   where the networks run; it must stay open while the pipeline lives
     * @param precision the activation precision to ask the backend for (F16 halves memory traffic on a GPU; a
     *                  backend without it computes in F32, see {@link #precisionUsed()})
     */
    public StableDiffusionPipeline(StableDiffusion model, Backend backend, Precision precision) {
        this(model, backend, precision, MemoryPolicy.WARM);
    }

    /**
     * As {@link #StableDiffusionPipeline(StableDiffusion, Backend, Precision)}, keeping networks compiled as
     * {@code memoryPolicy} says: all of them ({@link MemoryPolicy#WARM}), or each only for its stage; the backend's
     * derived weights (Winograd filters) are capped to the policy's share for every network compiled from now on.
     *
     * @param model        the loaded model; it must stay open while the pipeline lives
     * @param backend      where the networks run; it must stay open while the pipeline lives
     * @param precision    the activation precision to ask the backend for
     * @param memoryPolicy e.g. {@link MemoryPolicy#forBudget}
     */
    public StableDiffusionPipeline(StableDiffusion model, Backend backend, Precision precision, MemoryPolicy memoryPolicy) {
        this.model = model;
        this.runner = new NetworkRunner(backend, precision);
        this.loraNetworks = new LoraNetworks(model.unet(), model.textEncoders(), key -> runner.evict(key + "/"));
        this.memoryPolicy = memoryPolicy;
        if (memoryPolicy.derivedWeightBytes() != Long.MAX_VALUE) {
            backend.limitDerivedWeightBytes(memoryPolicy.derivedWeightBytes());
        }
    }

    /**
     * How long this pipeline keeps its networks compiled.
     *
     * @return the policy given at construction
     */
    public MemoryPolicy memoryPolicy() {
        return memoryPolicy;
    }

    /**
     * Ends {@code network}'s stage: under a staged {@link MemoryPolicy} its executables are freed (arena, packed
     * weights, Winograd filters) and its next call compiles it again; under a warm one nothing happens.
     * {@link #generate} calls this after each stage; callers that run the stages themselves (a benchmark) call it
     * between them.
     *
     * @param network the network whose stage is over
     */
    public void finishedWith(Network network) {
        if (memoryPolicy.staged()) {
            runner.release(network);
        }
    }

    /**
     * The width a request of size 0 gets: the size the model was trained at.
     *
     * @return the UNet's sample size times the VAE's downscale factor (512 for SD 1.5, 768 for SD 2.x-v,
     *         1024 for SDXL)
     */
    public int defaultWidth() {
        return model.unet().sampleSize() * model.vae().downscaleFactor();
    }

    /**
     * The height a request of size 0 gets; the models are trained on squares.
     *
     * @return the same as {@link #defaultWidth()}
     */
    public int defaultHeight() {
        return defaultWidth();
    }

    /**
     * Latent height and width for an image size.
     *
     * @param height latent rows: the image height over the VAE's downscale factor
     * @param width  latent columns: the image width over the VAE's downscale factor
     */
    public record LatentSize(int height, int width) {
    }

    /**
     * The latent size of a {@code width} x {@code height} image.
     *
     * @param width  image width in pixels
     * @param height image height in pixels
     * @return both sides divided by the VAE's downscale factor (8)
     * @throws IllegalArgumentException if a side is not a multiple of that factor
     */
    public LatentSize latentSize(int width, int height) {
        int factor = model.vae().downscaleFactor();
        if (width % factor != 0 || height % factor != 0) {
            throw new IllegalArgumentException("size " + width + "x" + height + " is not a multiple of " + factor
                    + ", the model's latent downscale factor");
        }
        return new LatentSize(height / factor, width / factor);
    }

    /**
     * The backend the networks run on.
     *
     * @return the backend given at construction; it stays the caller's to close
     */
    public Backend backend() {
        return runner.backend();
    }

    /**
     * The model whose networks this pipeline runs.
     *
     * @return the model given at construction; it stays the caller's to close
     */
    public StableDiffusion model() {
        return model;
    }

    /**
     * Runs one whole generation: LoRAs merged (and kept for the next request with the same set), the prompt
     * encoded, the image encoded for image-to-image or inpainting, the denoising loop, the VAE decode. Networks
     * are compiled (and, on a JIT backend, their kernels compiled, see {@link Executable#prepare()}) the first time
     * a shape is needed; that time is reported as {@link StageTimings#preparationMs()}, apart from the stage figures.
     *
     * @param request  what to generate; sizes of 0 take {@link #defaultWidth()} and {@link #defaultHeight()}
     * @param progress told before and after each UNet call; its {@link ProgressListener#stopRequested()} may end
     *                 the loop early, and the partly denoised latents are then decoded
     * @return the image (null if the request asked for latents only), the final latents, the seed, stage
     *         timings and warnings (e.g. a prompt cut to the encoder's length); the caller closes it
     * @throws IllegalArgumentException if the size is not a multiple of 8, the init image or mask does not have
     *                                  the request's size, the initial noise has the wrong length, or an
     *                                  inpainting model gets no mask
     * @throws io.jdiffusion.models.lora.LoraException if a LoRA file is missing, corrupt or does not fit the model
     */
    public GenerationResult generate(GenerationRequest request, ProgressListener progress) {
        long start = System.nanoTime();
        int width = request.size().width() == 0 ? defaultWidth() : request.size().width();
        int height = request.size().height() == 0 ? defaultHeight() : request.size().height();
        latentSize(width, height); // a bad size fails before any LoRA is merged
        if (request.image() != null && request.image().area().onlyMasked()) {
            return OnlyMaskedInpainting.run(request, width, height, crop -> generate(crop, progress));
        }
        StageClock clock = new StageClock(runner);
        GenerationRequest.PromptInput promptInput = request.prompt();
        LoraRequest loraRequest = LoraRequest.resolve(promptInput.prompt(), promptInput.loras(), promptInput.loraDir());
        try (LoraNetworks.Lease lease = loraNetworks.lease(loraRequest.loras())) {
            return generate(request, lease.networks(), loraRequest, width, height, start, clock, progress);
        }
    }

    /** One generation with {@code networks} (the model's, or with the request's LoRAs merged). */
    private GenerationResult generate(GenerationRequest request, AdaptedNetworks networks, LoraRequest loraRequest,
                                      int width, int height, long start, StageClock clock,
                                      ProgressListener progress) {
        GenerationRequest.SamplingOptions sampling = request.sampling();
        LatentSize latent = latentSize(width, height);
        int h = latent.height();
        int w = latent.width();
        int latentSize = model.vae().latentChannels() * h * w;
        checkUNetInput(request.image());

        Sampler sampler = sampling.sampler() != null ? sampling.sampler() : model.defaultSampler();
        Scheduler scheduler = sampler.create(model.schedulerConfig(), sampling.schedule(), sampling.eta());
        scheduler.setTimesteps(sampling.steps());
        TorchGenerator generator = new TorchGenerator(sampling.seed());
        boolean guided = sampling.usesGuidance();

        double vaeEncodeMs = 0;
        TextConditioner conditioner = networks.baseTextEncoders() ? model.conditioner()
                : model.conditioner().withTextEncoders(networks.textEncoders(), networks.textEncoderKeys());
        clock.prepared(); // reading and merging a LoRA set is one-time work, like compiling
        ConditioningInput conditioningInput = new ConditioningInput(loraRequest.prompt(),
                request.prompt().negativePrompt(), guided, width, height, request.sizeConditioning());
        List<String> warnings = new ArrayList<>(loraRequest.warnings());
        try (Conditioning conditioning = conditioner.encode(conditioningInput, runner)) {
            finishedWith(Network.TEXT_ENCODERS);
            warnings.addAll(conditioning.warnings());
            double textMs = clock.lap();

            float[] latents;
            int firstCall = 0;
            Inpainting inpainting = null;
            GenerationRequest.ImageInput image = request.image();
            if (image != null && image.mask() != null) {
                clock.lap();
                firstCall = Schedulers.img2imgStartIndex(scheduler, sampling.steps(), image.strength());
                // diffusers' draw order: the init image's posterior sample (unless a 9-channel UNet starts from
                // pure noise), the initial noise, then the masked image's posterior sample
                boolean concatenated = model.unet().inChannels() != model.vae().latentChannels();
                boolean strengthMax = image.strength() == 1f;
                float[] imageLatents = !concatenated || !strengthMax ? encodeImage(image.initImage(), width, height, generator) : null;
                float[] noise = generator.randn(latentSize);
                latents = strengthMax ? scaled(noise, scheduler.initNoiseSigma()) : scheduler.addNoise(imageLatents, noise, firstCall);
                InpaintMask mask = new InpaintMask(image.mask(), width, height);
                if (concatenated) {
                    float[] maskedLatents;
                    try (Tensor masked = mask.maskedImage(image.initImage())) {
                        maskedLatents = encodeImage(masked, width, height, generator);
                    }
                    inpainting = Inpainting.concatenated(mask.latent(h, w), maskedLatents);
                } else {
                    generator.randn(latentSize); // the masked image's sample, which diffusers draws and a 4-channel UNet never reads
                    inpainting = Inpainting.blended(mask.latent(h, w), imageLatents, noise);
                }
                vaeEncodeMs = clock.lap();
            } else if (image != null) {
                clock.lap();
                float[] initLatents = encodeImage(image.initImage(), width, height, generator);
                vaeEncodeMs = clock.lap();
                firstCall = Schedulers.img2imgStartIndex(scheduler, sampling.steps(), image.strength());
                float[] noise = generator.randn(latentSize);
                latents = scheduler.addNoise(initLatents, noise, firstCall);
            } else {
                float[] noise = sampling.initialNoise() != null ? checkLatents(sampling.initialNoise(), latentSize)
                        : generator.randn(latentSize);
                latents = scaled(noise, scheduler.initNoiseSigma());
            }

            finishedWith(Network.VAE_ENCODER);
            float[] timesteps = scheduler.timesteps();
            int calls = timesteps.length - firstCall;
            int steps = distinctCount(timesteps, firstCall);
            progress.started(calls, steps);
            clock.lap();
            double[] callMs = new double[calls];
            boolean firstCallCompiled = false;
            int callsMade = 0;
            for (int i = firstCall; i < timesteps.length && !progress.stopRequested(); i++) {
                float[] scaled = scheduler.scaleModelInput(latents, i);
                float[] input = inpainting != null ? inpainting.unetInput(scaled, conditioning.batch())
                        : repeat(scaled, conditioning.batch());
                float[] noisePred = predictNoise(networks.unet(), networks.unetKey(), input, timesteps[i], conditioning, h, w);
                callMs[i - firstCall] = clock.lap();
                firstCallCompiled |= i == firstCall && clock.lastLapCompiled();
                float[] eps = guided ? guide(noisePred, latentSize, sampling.guidanceScale()) : noisePred;
                latents = scheduler.step(eps, i, latents, generator);
                if (inpainting != null) {
                    latents = inpainting.afterStep(latents, scheduler, i + 1);
                }
                callsMade++;
                progress.latentsAfterStep(i - firstCall, latents, model.vae().latentChannels(), h, w);
                progress.stepDone(i - firstCall, calls);
            }
            clock.firstCallExcess(callMs, firstCallCompiled);
            double unetMs = java.util.Arrays.stream(callMs).sum() + clock.lap();
            progress.finished();
            finishedWith(Network.UNET);

            Tensor decoded = request.output().decodeImage() ? decodeLatents(latents, h, w, request.output().vaeTiling()) : null;
            finishedWith(Network.VAE_DECODER);
            double decodeMs = clock.lap();
            // An early stop (interrupt) counts the calls made, and the distinct timesteps among them.
            int stepsMade = callsMade == calls ? steps
                    : distinctCount(java.util.Arrays.copyOf(timesteps, firstCall + callsMade), firstCall);
            StageTimings timings = new StageTimings(clock.preparationMs(), textMs, vaeEncodeMs, unetMs, stepsMade, callsMade,
                    decodeMs, millisSince(start));
            return new GenerationResult(decoded, latents, h, w, sampling.seed(), timings, warnings);
        }
    }

    /**
     * Encodes prompts as the UNet's conditioning, on the device, as {@link #generate} does before denoising.
     *
     * @param input the prompt, the negative prompt, whether guidance needs both, and (for SDXL) the size conditioning
     * @return the conditioning: the context (and for SDXL the pooled embeddings and time ids) as device tensors
     *         of this pipeline's backend; the caller closes it
     */
    public Conditioning encodePrompt(ConditioningInput input) {
        return model.conditioner().encode(input, runner);
    }

    /**
     * One UNet call on the model's own weights (no LoRA), compiled for this shape on first use.
     *
     * @param sample       {@code conditioning.batch()} latents [C, h, w] back to back, already scaled by the scheduler
     * @param timestep     the timestep of every row
     * @param conditioning from {@link #encodePrompt}
     * @param h            latent height
     * @param w            latent width
     * @return the model's prediction (noise, or v for a v-prediction model) for each row, back to back
     * @throws IllegalArgumentException if the conditioning lacks an input the UNet needs (SDXL's added inputs)
     */
    public float[] predictNoise(float[] sample, float timestep, Conditioning conditioning, int h, int w) {
        return predictNoise(model.unet(), "", sample, timestep, conditioning, h, w);
    }

    /**
     * One call of {@code unet} (the model's, or one with LoRAs merged whose executables are keyed under
     * {@code key}). Each context length compiles its own executable: 77 tokens per prompt chunk.
     */
    private float[] predictNoise(UNet2DConditionModel unet, String key, float[] sample, float timestep,
                                 Conditioning conditioning, int h, int w) {
        UNetCall call = new UNetCall(conditioning.batch(), h, w, conditioning.tokens());
        Executable exe = runner.executable((key.isEmpty() ? "" : key + "/") + "unet/" + call.key(), () -> unet.graph(call));
        int batch = call.batch();
        float[] t = new float[batch];
        java.util.Arrays.fill(t, timestep);
        try (Tensor hostSample = Tensor.ofFloats(Shape.of(batch, unet.inChannels(), h, w), sample);
             Tensor hostT = Tensor.ofFloats(Shape.of(batch), t);
             DeviceTensor dSample = runner.backend().upload(hostSample);
             DeviceTensor dT = runner.backend().upload(hostT);
             DeviceTensor out = runner.backend().allocate(exe.graph().outputs().get(0).shape(), DType.F32);
             Tensor result = Tensor.allocate(out.shape(), DType.F32)) {
            List<DeviceTensor> inputs = new ArrayList<>(List.of(dSample, dT, conditioning.context()));
            for (AddedInput added : unet.addedInputs()) {
                DeviceTensor value = conditioning.addedInputs().get(added.name());
                if (value == null) {
                    throw new IllegalArgumentException("the UNet needs the added input '" + added.name()
                            + "', which the conditioning does not hold");
                }
                inputs.add(value);
            }
            exe.run(inputs, List.of(out));
            runner.backend().download(out, result);
            return result.toFloatArray();
        }
    }

    /** A VAE network: in F32 where the model says so (SDXL's VAE overflows F16), else in the runner's precision. */
    private Executable vaeExecutable(String key, java.util.function.Supplier<io.jdiffusion.backend.graph.Graph> graph) {
        return model.vaeNeedsF32() ? runner.executableInF32(key, graph) : runner.executable(key, graph);
    }

    /**
     * VAE decode of final latents to an image, whole.
     *
     * @param latents the latents [1, C, h, w] as the sampler leaves them (before division by the scaling factor)
     * @param h       latent height
     * @param w       latent width
     * @return the image [1, 3, 8h, 8w] in [0, 1]; the caller closes it
     */
    public Tensor decodeLatents(float[] latents, int h, int w) {
        return decodeLatents(latents, h, w, GenerationRequest.VaeTiling.OFF);
    }

    /**
     * VAE decode of final latents to an image, whole or in tiles (of the VAE's sample size, {@link TiledDecoding}).
     *
     * @param latents the latents [1, C, h, w] as the sampler leaves them (before division by the scaling factor)
     * @param h       latent height
     * @param w       latent width
     * @param tiling  whole, tiled, or tiled when the image is large ({@link GenerationRequest.VaeTiling#AUTO})
     * @return the image [1, 3, 8h, 8w] in [0, 1]; the caller closes it
     */
    public Tensor decodeLatents(float[] latents, int h, int w, GenerationRequest.VaeTiling tiling) {
        AutoencoderKL vae = model.vae();
        float[] z = new float[latents.length];
        float inv = 1f / vae.scalingFactor();
        for (int i = 0; i < z.length; i++) {
            z[i] = latents[i] * inv;
        }
        TiledDecoding tiles = new TiledDecoding(vae.config().sampleSize() / vae.downscaleFactor(), vae.downscaleFactor());
        boolean tiled = switch (tiling) {
            case ON -> true;
            case OFF -> false;
            // the planned arena of the whole decoder in F32, an upper bound in F16
            case AUTO -> tiles.autoTiles(h, w, runner.backend().deviceMemoryCapacity(),
                    () -> BufferPlan.plan(vae.decoderGraph(1, h, w), 64).arenaBytes());
        };
        float[] pixels = tiled ? tiles.decode(z, vae.latentChannels(), h, w, this::decodeWhole) : decodeWhole(z, h, w);
        Images.toUnitRange(pixels);
        return Tensor.ofFloats(Shape.of(1, 3, (long) h * vae.downscaleFactor(), (long) w * vae.downscaleFactor()), pixels);
    }

    /** The VAE decoder on latents z [channels, h, w] (already divided by the scaling factor): the image [3, h * f, w * f] in [-1, 1]. */
    private float[] decodeWhole(float[] z, int h, int w) {
        AutoencoderKL vae = model.vae();
        Executable exe = vaeExecutable("vae_decoder/" + h + "x" + w, () -> vae.decoderGraph(1, h, w));
        try (Tensor hostZ = Tensor.ofFloats(Shape.of(1, vae.latentChannels(), h, w), z);
             DeviceTensor dz = runner.backend().upload(hostZ);
             DeviceTensor out = runner.backend().allocate(exe.graph().outputs().get(0).shape(), DType.F32)) {
            exe.run(List.of(dz), List.of(out));
            try (Tensor image = runner.backend().download(out)) {
                return image.toFloatArray();
            }
        }
    }

    /**
     * VAE encode for image-to-image, as diffusers' img2img: latents sampled from the posterior
     * (mean + std * randn) times the scaling factor.
     *
     * @param image     the image [1, 3, height, width] in [0, 1]; it stays the caller's
     * @param width     the image width in pixels
     * @param height    the image height in pixels
     * @param generator draws the posterior sample's noise (and advances, as torch's generator does)
     * @return the latents [1, C, height / 8, width / 8], back to back
     * @throws IllegalArgumentException if {@code image} is not [1, 3, height, width]
     */
    public float[] encodeImage(Tensor image, int width, int height, TorchGenerator generator) {
        if (image.shape().rank() != 4 || image.shape().dim(1) != 3 || image.shape().dim(2) != height || image.shape().dim(3) != width) {
            throw new IllegalArgumentException("init image must be [1, 3, " + height + ", " + width + "], got " + image.shape());
        }
        AutoencoderKL vae = model.vae();
        Executable exe = vaeExecutable("vae_encoder/" + height + "x" + width, () -> vae.encoderGraph(1, height, width));
        try (Tensor signed = Images.toSignedRange(image);
             DeviceTensor dImage = runner.backend().upload(signed);
             DeviceTensor mean = runner.backend().allocate(exe.graph().outputs().get(0).shape(), DType.F32);
             DeviceTensor logvar = runner.backend().allocate(exe.graph().outputs().get(1).shape(), DType.F32)) {
            exe.run(List.of(dImage), List.of(mean, logvar));
            try (Tensor hostMean = runner.backend().download(mean);
                 Tensor hostLogvar = runner.backend().download(logvar);
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
     * What the network calls compiled so far compute in (see {@link NetworkRunner#precisionUsed()}).
     *
     * @return F16 if any compiled network computes in F16, else F32 (also before the first generation)
     */
    public Precision precisionUsed() {
        return runner.precisionUsed();
    }

    /**
     * The precision asked for at construction, which the backend may not have granted (see {@link #precisionUsed()}).
     *
     * @return the requested activation precision
     */
    public Precision precisionRequested() {
        return runner.precisionRequested();
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

    /**
     * An inpainting UNet (latent channels x 2 + 1 inputs: latents, mask, masked-image latents) needs a mask;
     * an ordinary one takes a mask too (the chain is blended then).
     */
    private void checkUNetInput(GenerationRequest.ImageInput image) {
        int latentChannels = model.vae().latentChannels();
        int unetChannels = model.unet().inChannels();
        boolean masked = image != null && image.mask() != null;
        if (unetChannels == 2 * latentChannels + 1 && !masked) {
            throw new IllegalArgumentException("this is an inpainting model (its UNet takes " + unetChannels
                    + " input channels): give an init image and a mask");
        }
        if (unetChannels != latentChannels && unetChannels != 2 * latentChannels + 1) {
            throw new IllegalArgumentException("the UNet takes " + unetChannels + " input channels; jdiffusion runs UNets of "
                    + latentChannels + " (text-to-image) or " + (2 * latentChannels + 1) + " (inpainting) channels");
        }
    }

    private static float[] scaled(float[] x, float factor) {
        float[] out = new float[x.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = x[i] * factor;
        }
        return out;
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

    /** Denoising steps among the calls from {@code first} on: PNDM repeats its first timestep (two UNet calls). */
    private static int distinctCount(float[] timesteps, int first) {
        return (int) java.util.stream.IntStream.range(first, timesteps.length).mapToDouble(i -> timesteps[i]).distinct().count();
    }

    /**
     * Splits a generation's wall time into stages and preparation: each lap's time less the graph compilation
     * and preparation (JIT) that happened during it, which is preparation; the UNet's first call, when its
     * network was compiled for this generation, also gives its excess over the median call to preparation (a GPU
     * backend uploads the weights in the first run).
     */
    private static final class StageClock {
        private final NetworkRunner runner;
        private long lapStart = System.nanoTime();
        private long lapPreparation;
        private double preparationMs;
        private boolean lastLapCompiled;

        StageClock(NetworkRunner runner) {
            this.runner = runner;
            this.lapPreparation = runner.preparationNanos();
        }

        /** Milliseconds since the last lap, without the compilation in between (which joins the preparation). */
        double lap() {
            long now = System.nanoTime();
            long prep = runner.preparationNanos();
            double compiled = (prep - lapPreparation) / 1e6;
            double ms = (now - lapStart) / 1e6 - compiled;
            preparationMs += compiled;
            lastLapCompiled = compiled > 0;
            lapStart = now;
            lapPreparation = prep;
            return ms;
        }

        /** Counts the time since the last lap as preparation. */
        void prepared() {
            double ms = lap();
            preparationMs += ms;
        }

        boolean lastLapCompiled() {
            return lastLapCompiled;
        }

        /** Moves the first UNet call's excess over the median call to the preparation, if that call compiled. */
        void firstCallExcess(double[] callMs, boolean firstCompiled) {
            if (callMs.length < 2) {
                return;
            }
            double[] rest = java.util.Arrays.copyOfRange(callMs, 1, callMs.length);
            java.util.Arrays.sort(rest);
            double excess = callMs[0] - rest[rest.length / 2];
            if (excess > 0 && firstCompiled) {
                callMs[0] -= excess;
                preparationMs += excess;
            }
        }

        double preparationMs() {
            return preparationMs;
        }
    }

    private static double millisSince(long nanos) {
        return (System.nanoTime() - nanos) / 1e6;
    }

    /**
     * Frees the compiled networks, their device buffers and the merged LoRA networks. The model and the backend
     * stay open: they are the caller's.
     */
    @Override
    public void close() {
        loraNetworks.close();
        runner.close();
    }
}
