package io.jdiffusion.models.pipeline;

import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.conditioning.SizeConditioning;
import io.jdiffusion.models.lora.LoraUse;
import io.jdiffusion.models.scheduler.Sampler;
import io.jdiffusion.models.scheduler.Schedule;

import java.nio.file.Path;
import java.util.List;

/**
 * What to generate, in six groups: the prompt, how to sample, the image size, the image input (for
 * image-to-image and inpainting), what to output and SDXL's size conditioning. Built with {@link #builder()};
 * change a field of an existing request with {@link #toBuilder()}.
 *
 * <p>Every value is checked when the request is built, before any model work, against {@link RequestLimits}:
 * a bad value fails at once with one {@link IllegalArgumentException} naming it. A request is immutable but for
 * the arrays and tensors it refers to (initial noise, init image, mask), which stay the caller's: do not change
 * or close them while a generation uses the request. One request may be run any number of times, on any
 * pipeline; the same request and seed give the same image.
 *
 * @param prompt            the prompts and LoRAs
 * @param sampling          sampler, schedule, steps, guidance, eta, seed and optional initial noise
 * @param size              the image size in pixels (0 for the model's default)
 * @param image             the image to start from, for image-to-image and inpainting; null for text-to-image
 * @param output            whether to decode an image and how to tile the VAE
 * @param sizeConditioning  SDXL's micro-conditioning (original size, crop, target size); models without it ignore it
 */
public record GenerationRequest(PromptInput prompt, SamplingOptions sampling, ImageSize size, ImageInput image,
                                OutputOptions output, SizeConditioning sizeConditioning) {
    /** Denoising steps when none are given: A1111's default, enough for the multistep samplers. */
    public static final int DEFAULT_STEPS = 20;
    /** Classifier-free guidance scale when none is given: diffusers' and A1111's 7.5. */
    public static final float DEFAULT_GUIDANCE = 7.5f;
    /** Image-to-image strength when none is given: diffusers' 0.8, the last 80% of the schedule. */
    public static final float DEFAULT_STRENGTH = 0.8f;

    /**
     * The text to draw and the text to steer away from (used with classifier-free guidance only), in A1111's
     * syntax (emphasis, BREAK, {@code <lora:NAME:W>} tags in the prompt), and the LoRAs to apply.
     *
     * @param prompt         what to draw; null is read as empty
     * @param negativePrompt what to steer away from; null is read as empty (the unconditional embedding)
     * @param loras          LoRA files given directly (the CLI's {@code --lora FILE:W}), applied before those of tags;
     *                       null is read as none
     * @param loraDir        where {@code <lora:NAME:...>} tags find {@code NAME.safetensors}; null when there is none
     */
    public record PromptInput(String prompt, String negativePrompt, List<LoraUse> loras, Path loraDir) {
        /**
         * Replaces nulls as above and copies {@code loras}.
         *
         * @throws IllegalArgumentException if a prompt is longer than {@link RequestLimits#MAX_PROMPT_CHARS}
         */
        public PromptInput {
            prompt = prompt == null ? "" : prompt;
            negativePrompt = negativePrompt == null ? "" : negativePrompt;
            if (Math.max(prompt.length(), negativePrompt.length()) > RequestLimits.MAX_PROMPT_CHARS) {
                throw new IllegalArgumentException("a prompt of " + Math.max(prompt.length(), negativePrompt.length())
                        + " characters is longer than the limit of " + RequestLimits.MAX_PROMPT_CHARS);
            }
            loras = loras == null ? List.of() : List.copyOf(loras);
        }

        /**
         * Prompts without LoRA files (tags in the prompt then find no folder).
         *
         * @param prompt         what to draw; null is read as empty
         * @param negativePrompt what to steer away from; null is read as empty
         * @throws IllegalArgumentException if a prompt is longer than {@link RequestLimits#MAX_PROMPT_CHARS}
         */
        public PromptInput(String prompt, String negativePrompt) {
            this(prompt, negativePrompt, List.of(), null);
        }
    }

    /**
     * How to sample.
     *
     * @param sampler       the sampler, or null for the model's default sampler
     * @param schedule      how the noise levels are spaced ({@link Schedule#DEFAULT}: the sampler's own)
     * @param steps         denoising steps, from 1 to {@link RequestLimits#MAX_STEPS}; PNDM's first step calls the
     *                      UNet twice
     * @param guidanceScale classifier-free guidance; 1 or less turns it off (one UNet row per call instead of two)
     * @param eta           DDIM's eta (0 = deterministic)
     * @param seed          seeds {@code torch.Generator('cpu').manual_seed(seed)}: the same seed gives diffusers' image
     * @param initialNoise  replaces the seeded initial noise when not null (diffusers' {@code latents=} argument;
     *                      multiplied by the scheduler's init_noise_sigma)
     */
    public record SamplingOptions(Sampler sampler, Schedule schedule, int steps, float guidanceScale, float eta, long seed,
                                  float[] initialNoise) {
        /**
         * Checks the options.
         *
         * @throws IllegalArgumentException if {@code schedule} is null, the schedule does not apply to the sampler,
         *                                  {@code steps} is outside [1, {@link RequestLimits#MAX_STEPS}], the guidance
         *                                  scale is not finite, or eta is negative or not finite
         */
        public SamplingOptions {
            if (schedule == null) {
                throw new IllegalArgumentException("schedule must not be null (Schedule.DEFAULT for the sampler's own)");
            }
            if (sampler != null) {
                new Sampler.Choice(sampler, schedule).checked();
            }
            if (steps < 1 || steps > RequestLimits.MAX_STEPS) {
                throw new IllegalArgumentException("steps must be in [1, " + RequestLimits.MAX_STEPS + "], got " + steps);
            }
            if (!Float.isFinite(guidanceScale)) {
                throw new IllegalArgumentException("guidance scale must be a finite number, got " + guidanceScale);
            }
            if (!Float.isFinite(eta) || eta < 0) {
                throw new IllegalArgumentException("eta must be a finite number >= 0, got " + eta);
            }
        }

        /**
         * Whether classifier-free guidance is on, so that each UNet call runs the negative and the positive prompt
         * as a batch of two.
         *
         * @return true when the guidance scale is above 1
         */
        public boolean usesGuidance() {
            return guidanceScale > 1;
        }
    }

    /**
     * Image size in pixels. A side must be a multiple of 8 (the VAE's factor), which the pipeline checks, since
     * 0 stands for the model's default.
     *
     * @param width  in pixels; 0 for the model's default
     * @param height in pixels; 0 for the model's default
     */
    public record ImageSize(int width, int height) {
        /**
         * Checks the size against the limits.
         *
         * @throws IllegalArgumentException if a side is negative or longer than {@link RequestLimits#MAX_SIDE}, or
         *                                  the area exceeds {@link RequestLimits#MAX_PIXELS}
         */
        public ImageSize {
            RequestLimits.checkSize(width, height);
        }
    }

    /**
     * The image to start from, for image-to-image and inpainting. The tensors stay the caller's: the request
     * neither copies nor closes them ({@link ImageFiles} reads them from PNG or JPEG files).
     *
     * @param initImage the image [1, 3, H, W] in [0, 1]
     * @param strength  how much of the schedule to run, in (0, 1]: 1 starts from pure noise
     * @param mask      the inpainting mask [1, 1, H, W] in [0, 1] (1 = repaint), or null for image-to-image
     * @param area      what is repainted at the request's size: the whole picture (then the image and mask have
     *                  the request's size), or only the masked area, cut from an image and mask of any size
     *                  (A1111's "Inpaint area: Only masked")
     */
    public record ImageInput(Tensor initImage, float strength, Tensor mask, InpaintArea area) {
        /**
         * Checks the input.
         *
         * @throws IllegalArgumentException if {@code initImage} or {@code area} is null, {@code strength} is outside
         *                                  (0, 1], or only the masked area is to be repainted and the mask is
         *                                  missing or does not have the init image's size
         */
        public ImageInput {
            if (initImage == null) {
                throw new IllegalArgumentException("an image input needs an init image");
            }
            if (!(strength > 0 && strength <= 1)) {
                throw new IllegalArgumentException("strength must be in (0, 1], got " + strength);
            }
            if (area == null) {
                throw new IllegalArgumentException("the inpaint area is required (InpaintArea.WHOLE_PICTURE by default)");
            }
            if (area.onlyMasked()) {
                if (mask == null) {
                    throw new IllegalArgumentException("\"Inpaint area: Only masked\" needs a mask");
                }
                Shape image = initImage.shape();
                Shape m = mask.shape();
                if (m.rank() != 4 || image.rank() != 4 || m.size(2) != image.size(2) || m.size(3) != image.size(3)) {
                    throw new IllegalArgumentException("the mask " + m + " must have the init image's size " + image);
                }
            }
        }
    }

    /**
     * A1111's "Inpaint area". {@link #WHOLE_PICTURE} repaints the image at the request's size. {@link #onlyMasked}
     * ("Only masked", the CLI's {@code --inpaint-full-res}) cuts the mask's bounding box plus {@code padding}
     * pixels, grown to the request's aspect ratio, out of the image, repaints it at the request's size, and pastes
     * it back into the image through the mask: small areas of large images get the model's full resolution.
     *
     * @param onlyMasked true to repaint only the masked area, false for the whole picture
     * @param padding    pixels added around the mask's bounding box; 0 for the whole picture
     */
    public record InpaintArea(boolean onlyMasked, int padding) {
        /** A1111's default "Only masked padding, pixels". */
        public static final int DEFAULT_PADDING = 32;
        /** Repaint the whole picture at the request's size: the default, and diffusers' only way. */
        public static final InpaintArea WHOLE_PICTURE = new InpaintArea(false, 0);

        /**
         * Checks the padding.
         *
         * @throws IllegalArgumentException if {@code padding} is negative, or not 0 for the whole picture
         */
        public InpaintArea {
            if (padding < 0) {
                throw new IllegalArgumentException("the masked area padding must be 0 or more pixels, got " + padding);
            }
            if (!onlyMasked && padding != 0) {
                throw new IllegalArgumentException("a masked area padding applies to \"Only masked\" inpainting only");
            }
        }

        /**
         * A1111's "Only masked" with its padding.
         *
         * @param padding pixels around the mask's bounding box, 0 or more ({@link #DEFAULT_PADDING} is A1111's)
         * @return the area
         * @throws IllegalArgumentException if {@code padding} is negative
         */
        public static InpaintArea onlyMasked(int padding) {
            return new InpaintArea(true, padding);
        }
    }

    /**
     * What to produce.
     *
     * @param decodeImage false returns the final latents only and skips the VAE (diffusers' {@code output_type="latent"})
     * @param vaeTiling   whether the VAE decodes the image whole or in overlapping tiles
     *                    ({@link io.jdiffusion.models.vae.TiledDecoding})
     */
    public record OutputOptions(boolean decodeImage, VaeTiling vaeTiling) {
        /**
         * Checks the options.
         *
         * @throws IllegalArgumentException if {@code vaeTiling} is null
         */
        public OutputOptions {
            if (vaeTiling == null) {
                throw new IllegalArgumentException("vaeTiling is required (AUTO, ON or OFF)");
            }
        }
    }

    /**
     * VAE decoding in tiles: AUTO tiles images of more than twice the VAE's tile (for SD 1.5, 768x768 and
     * up), ON always tiles (as diffusers' {@code enable_tiling()}), OFF decodes whole.
     */
    public enum VaeTiling {
        /** Tiles images of more than twice the VAE's tile, decodes smaller ones whole. */
        AUTO,
        /** Always decodes in tiles: less memory, seams blended away. */
        ON,
        /** Always decodes whole: the most memory, exactly diffusers' image. */
        OFF
    }

    /**
     * Checks that every group is there; each group checked its own values when it was made.
     *
     * @throws IllegalArgumentException if {@code prompt}, {@code sampling}, {@code size}, {@code output} or
     *                                  {@code sizeConditioning} is null
     */
    public GenerationRequest {
        if (prompt == null || sampling == null || size == null || output == null || sizeConditioning == null) {
            throw new IllegalArgumentException("prompt, sampling, size, output and size conditioning are required "
                    + "(image may be null)");
        }
    }

    /**
     * A new builder with diffusers' defaults: empty prompts, the model's sampler and its own schedule, 20 steps,
     * guidance 7.5, eta 0, seed 0, the model's default size, text-to-image, the image decoded with automatic tiling.
     *
     * @return a builder; it is not thread-safe, a request it builds is
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * A builder holding this request's values, to change some of them (e.g. the seed for the next image).
     *
     * @return a new builder; changing it leaves this request as it is
     */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.prompt = prompt.prompt();
        b.negativePrompt = prompt.negativePrompt();
        b.loras = prompt.loras();
        b.loraDir = prompt.loraDir();
        b.sampler = sampling.sampler();
        b.schedule = sampling.schedule();
        b.steps = sampling.steps();
        b.guidanceScale = sampling.guidanceScale();
        b.eta = sampling.eta();
        b.seed = sampling.seed();
        b.initialNoise = sampling.initialNoise();
        b.width = size.width();
        b.height = size.height();
        if (image != null) {
            b.initImage = image.initImage();
            b.strength = image.strength();
            b.mask = image.mask();
            b.inpaintArea = image.area();
        }
        b.decodeImage = output.decodeImage();
        b.vaeTiling = output.vaeTiling();
        b.sizeConditioning = sizeConditioning;
        return b;
    }

    /**
     * Builds a {@link GenerationRequest}: every field has a default (see {@link GenerationRequest#builder()}),
     * the setters only store values, and {@link #build()} checks them all. A builder is for one thread.
     */
    public static final class Builder {
        private String prompt = "";
        private String negativePrompt = "";
        private List<LoraUse> loras = List.of();
        private Path loraDir;
        private Sampler sampler;
        private Schedule schedule = Schedule.DEFAULT;
        private int steps = DEFAULT_STEPS;
        private float guidanceScale = DEFAULT_GUIDANCE;
        private float eta;
        private long seed;
        private float[] initialNoise;
        private int width;
        private int height;
        private Tensor initImage;
        private float strength = DEFAULT_STRENGTH;
        private Tensor mask;
        private InpaintArea inpaintArea = InpaintArea.WHOLE_PICTURE;
        private boolean decodeImage = true;
        private VaeTiling vaeTiling = VaeTiling.AUTO;
        private SizeConditioning sizeConditioning = SizeConditioning.DEFAULT;

        private Builder() {
        }

        /**
         * The prompt, in A1111's syntax: {@code (emphasis:1.2)}, {@code [less]}, {@code BREAK}, {@code <lora:NAME:W>}.
         *
         * @param text what to draw; null is read as empty
         * @return this builder
         */
        public Builder prompt(String text) {
            this.prompt = text;
            return this;
        }

        /**
         * The negative prompt, used when guidance is on (scale above 1), in the same syntax as the prompt.
         *
         * @param text what to steer away from; null or empty for the unconditional embedding
         * @return this builder
         */
        public Builder negativePrompt(String text) {
            this.negativePrompt = text;
            return this;
        }

        /**
         * LoRA files to apply besides those the prompt's tags name; they are applied first.
         *
         * @param files the files with their weights; null or empty for none
         * @return this builder
         */
        public Builder loras(List<LoraUse> files) {
            this.loras = files;
            return this;
        }

        /**
         * The folder where {@code <lora:NAME:W>} tags find {@code NAME.safetensors}.
         *
         * @param dir the folder; null for none (a tag then fails the generation with a message naming it)
         * @return this builder
         */
        public Builder loraDir(Path dir) {
            this.loraDir = dir;
            return this;
        }

        /**
         * The sampler.
         *
         * @param s the sampler, or null for the model's default ({@link io.jdiffusion.models.sd.StableDiffusion#defaultSampler()})
         * @return this builder
         */
        public Builder sampler(Sampler s) {
            this.sampler = s;
            return this;
        }

        /**
         * A sampler by any name {@link Sampler#parse} accepts; an A1111 label with a schedule ("DPM++ 2M
         * Karras") also sets the schedule.
         *
         * @param name e.g. {@code euler_a}, {@code DPM++ 2M Karras}, {@code EulerAncestralDiscreteScheduler}; null for
         *             the model's default sampler
         * @return this builder
         * @throws IllegalArgumentException for an unknown name (the message lists the known ones)
         */
        public Builder sampler(String name) {
            if (name == null) {
                this.sampler = null;
                return this;
            }
            Sampler.Choice choice = Sampler.parse(name);
            this.sampler = choice.sampler();
            if (choice.schedule() != Schedule.DEFAULT) {
                this.schedule = choice.schedule();
            }
            return this;
        }

        /**
         * How the noise levels are spaced; {@link #build()} refuses a schedule the sampler cannot use.
         *
         * @param s {@link Schedule#DEFAULT} for the sampler's own, or Karras, exponential or SGM uniform
         * @return this builder
         */
        public Builder schedule(Schedule s) {
            this.schedule = s;
            return this;
        }

        /**
         * Denoising steps; the UNet runs once per step (PNDM: once more), twice as wide with guidance.
         *
         * @param n from 1 to {@link RequestLimits#MAX_STEPS}, checked by {@link #build()}
         * @return this builder
         */
        public Builder steps(int n) {
            this.steps = n;
            return this;
        }

        /**
         * Classifier-free guidance scale: how strongly the prompt, against the negative prompt, steers each step.
         *
         * @param g a finite number; 1 or less turns guidance off (and halves the UNet's work)
         * @return this builder
         */
        public Builder guidanceScale(float g) {
            this.guidanceScale = g;
            return this;
        }

        /**
         * DDIM's eta: the share of fresh noise added at each step.
         *
         * @param e 0 (deterministic DDIM, the default) or more; the other samplers ignore it
         * @return this builder
         */
        public Builder eta(float e) {
            this.eta = e;
            return this;
        }

        /**
         * The seed of the initial noise and of the samplers' noise, as {@code torch.Generator('cpu').manual_seed}:
         * the same seed and settings give diffusers' image.
         *
         * @param s any value
         * @return this builder
         */
        public Builder seed(long s) {
            this.seed = s;
            return this;
        }

        /**
         * Replaces the seeded initial noise (diffusers' {@code latents=}): the pipeline multiplies it by the
         * scheduler's initial sigma. The array is read, not copied: leave it unchanged while the request is used.
         *
         * @param noise C x h x w values for the latent size, checked when generating; null to draw from the seed
         * @return this builder
         */
        public Builder initialNoise(float[] noise) {
            this.initialNoise = noise;
            return this;
        }

        /**
         * The image size.
         *
         * @param w width in pixels, a multiple of 8; 0 for the model's default
         * @param h height in pixels, a multiple of 8; 0 for the model's default
         * @return this builder
         */
        public Builder size(int w, int h) {
            this.width = w;
            this.height = h;
            return this;
        }

        /**
         * Image-to-image: start from {@code image} noised to {@code s} of the schedule. The tensor stays the
         * caller's (not copied, not closed).
         *
         * @param image the image [1, 3, H, W] in [0, 1] at the request's size; null for text-to-image
         * @param s     the strength, in (0, 1], checked by {@link #build()}: 1 starts from pure noise
         * @return this builder
         */
        public Builder initImage(Tensor image, float s) {
            this.initImage = image;
            this.strength = s;
            return this;
        }

        /**
         * Inpainting: repaint where the mask is 1, keep the init image where it is 0. The tensor stays the caller's.
         *
         * @param m the mask [1, 1, H, W] in [0, 1]; null for none. {@link #build()} refuses a mask without an init image
         * @return this builder
         */
        public Builder mask(Tensor m) {
            this.mask = m;
            return this;
        }

        /**
         * Whether the whole picture or only the masked area is repainted.
         *
         * @param area {@link InpaintArea#WHOLE_PICTURE} (the default) or only the masked area, cut out, repainted at
         *             the request's size and pasted back
         * @return this builder
         */
        public Builder inpaintArea(InpaintArea area) {
            this.inpaintArea = area;
            return this;
        }

        /**
         * Whether to decode the final latents into an image.
         *
         * @param decode false to skip the VAE and return the latents only (diffusers' {@code output_type="latent"})
         * @return this builder
         */
        public Builder decodeImage(boolean decode) {
            this.decodeImage = decode;
            return this;
        }

        /**
         * Whether the VAE decodes the image whole or in tiles.
         *
         * @param tiling {@link VaeTiling#AUTO} (the default), ON or OFF; null is refused by {@link #build()}
         * @return this builder
         */
        public Builder vaeTiling(VaeTiling tiling) {
            this.vaeTiling = tiling;
            return this;
        }

        /**
         * SDXL's size conditioning; other models ignore it.
         *
         * @param c original size, crop and target size; null for {@link SizeConditioning#DEFAULT} (diffusers' defaults)
         * @return this builder
         */
        public Builder sizeConditioning(SizeConditioning c) {
            this.sizeConditioning = c == null ? SizeConditioning.DEFAULT : c;
            return this;
        }

        /**
         * Checks every value and builds the request; the builder can be changed and used again afterwards.
         *
         * @return the request
         * @throws IllegalArgumentException naming the first bad value: a mask without an init image, a prompt over
         *                                  the length limit, steps, size, strength, guidance or eta out of range, or a
         *                                  schedule the sampler cannot use
         */
        public GenerationRequest build() {
            if (mask != null && initImage == null) {
                throw new IllegalArgumentException("a mask needs an init image to repaint");
            }
            if (inpaintArea.onlyMasked() && initImage == null) {
                throw new IllegalArgumentException("\"Inpaint area: Only masked\" needs an init image and a mask");
            }
            return new GenerationRequest(new PromptInput(prompt, negativePrompt, loras, loraDir),
                    new SamplingOptions(sampler, schedule, steps, guidanceScale, eta, seed, initialNoise),
                    new ImageSize(width, height),
                    initImage == null ? null : new ImageInput(initImage, strength, mask, inpaintArea),
                    new OutputOptions(decodeImage, vaeTiling), sizeConditioning);
        }
    }
}
