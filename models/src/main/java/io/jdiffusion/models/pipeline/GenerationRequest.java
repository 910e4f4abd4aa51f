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
 * @param image             null for text-to-image
 * @param sizeConditioning  SDXL's micro-conditioning (original size, crop, target size); models without it ignore it
 */
public record GenerationRequest(PromptInput prompt, SamplingOptions sampling, ImageSize size, ImageInput image,
                                OutputOptions output, SizeConditioning sizeConditioning) {
    public static final int DEFAULT_STEPS = 20;
    public static final float DEFAULT_GUIDANCE = 7.5f;
    public static final float DEFAULT_STRENGTH = 0.8f;

    /**
     * The text to draw and the text to steer away from (used with classifier-free guidance only), in A1111's
     * syntax (emphasis, BREAK, {@code <lora:NAME:W>} tags in the prompt), and the LoRAs to apply.
     *
     * @param loras   LoRA files given directly (the CLI's {@code --lora FILE:W}), applied before those of tags
     * @param loraDir where {@code <lora:NAME:...>} tags find {@code NAME.safetensors}; null when there is none
     */
    public record PromptInput(String prompt, String negativePrompt, List<LoraUse> loras, Path loraDir) {
        public PromptInput {
            prompt = prompt == null ? "" : prompt;
            negativePrompt = negativePrompt == null ? "" : negativePrompt;
            if (Math.max(prompt.length(), negativePrompt.length()) > RequestLimits.MAX_PROMPT_CHARS) {
                throw new IllegalArgumentException("a prompt of " + Math.max(prompt.length(), negativePrompt.length())
                        + " characters is longer than the limit of " + RequestLimits.MAX_PROMPT_CHARS);
            }
            loras = loras == null ? List.of() : List.copyOf(loras);
        }

        public PromptInput(String prompt, String negativePrompt) {
            this(prompt, negativePrompt, List.of(), null);
        }
    }

    /**
     * How to sample.
     *
     * @param sampler       the sampler, or null for the model's default sampler
     * @param schedule      how the noise levels are spaced ({@link Schedule#DEFAULT}: the sampler's own)
     * @param guidanceScale classifier-free guidance; 1 or less turns it off
     * @param eta           DDIM's eta (0 = deterministic)
     * @param seed          seeds {@code torch.Generator('cpu').manual_seed(seed)}: the same seed gives diffusers' image
     * @param initialNoise  replaces the seeded initial noise when not null (diffusers' {@code latents=} argument;
     *                      multiplied by the scheduler's init_noise_sigma)
     */
    public record SamplingOptions(Sampler sampler, Schedule schedule, int steps, float guidanceScale, float eta, long seed,
                                  float[] initialNoise) {
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

        public boolean usesGuidance() {
            return guidanceScale > 1;
        }
    }

    /** Image size in pixels; 0 means the model's default for that side. */
    public record ImageSize(int width, int height) {
        public ImageSize {
            RequestLimits.checkSize(width, height);
        }
    }

    /**
     * The image to start from: {@code initImage} [1, 3, H, W] in [0, 1] and {@code strength} in (0, 1], how much
     * of the schedule to run. {@code mask} [1, 1, H, W] in [0, 1] (1 = repaint) or null. {@code area} says what
     * is repainted at the request's size: the whole picture (then the image and mask have the request's size),
     * or only the masked area, cut from an image and mask of any size (A1111's "Inpaint area: Only masked").
     */
    public record ImageInput(Tensor initImage, float strength, Tensor mask, InpaintArea area) {
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
     */
    public record InpaintArea(boolean onlyMasked, int padding) {
        /** A1111's default "Only masked padding, pixels". */
        public static final int DEFAULT_PADDING = 32;
        public static final InpaintArea WHOLE_PICTURE = new InpaintArea(false, 0);

        public InpaintArea {
            if (padding < 0) {
                throw new IllegalArgumentException("the masked area padding must be 0 or more pixels, got " + padding);
            }
            if (!onlyMasked && padding != 0) {
                throw new IllegalArgumentException("a masked area padding applies to \"Only masked\" inpainting only");
            }
        }

        public static InpaintArea onlyMasked(int padding) {
            return new InpaintArea(true, padding);
        }
    }

    /**
     * What to produce. {@code decodeImage} false returns the final latents only and skips the VAE; {@code vaeTiling}
     * says whether the VAE decodes the image whole or in overlapping tiles ({@link io.jdiffusion.models.vae.TiledDecoding})
     * (diffusers' {@code output_type="latent"}).
     */
    public record OutputOptions(boolean decodeImage, VaeTiling vaeTiling) {
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
        AUTO,
        ON,
        OFF
    }

    public GenerationRequest {
        if (prompt == null || sampling == null || size == null || output == null || sizeConditioning == null) {
            throw new IllegalArgumentException("prompt, sampling, size, output and size conditioning are required "
                    + "(image may be null)");
        }
    }

    /** A new builder with diffusers' defaults: empty prompts, the model's sampler, 20 steps, guidance 7.5, seed 0. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this request's values. */
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

    /** Builds a {@link GenerationRequest}; every field has a default, and {@link #build()} validates. */
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

        public Builder prompt(String text) {
            this.prompt = text;
            return this;
        }

        public Builder negativePrompt(String text) {
            this.negativePrompt = text;
            return this;
        }

        /** LoRA files to apply besides those the prompt's tags name. */
        public Builder loras(List<LoraUse> files) {
            this.loras = files;
            return this;
        }

        /** The folder where {@code <lora:NAME:W>} tags find their files; null for none. */
        public Builder loraDir(Path dir) {
            this.loraDir = dir;
            return this;
        }

        /** The sampler, or null for the model's default. */
        public Builder sampler(Sampler s) {
            this.sampler = s;
            return this;
        }

        /**
         * A sampler by any name {@link Sampler#parse} accepts; an A1111 label with a schedule ("DPM++ 2M
         * Karras") also sets the schedule. Null: the model's default sampler.
         *
         * @throws IllegalArgumentException for an unknown name
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

        public Builder schedule(Schedule s) {
            this.schedule = s;
            return this;
        }

        public Builder steps(int n) {
            this.steps = n;
            return this;
        }

        public Builder guidanceScale(float g) {
            this.guidanceScale = g;
            return this;
        }

        public Builder eta(float e) {
            this.eta = e;
            return this;
        }

        public Builder seed(long s) {
            this.seed = s;
            return this;
        }

        /** Replaces the seeded initial noise (null: draw it from the seed). */
        public Builder initialNoise(float[] noise) {
            this.initialNoise = noise;
            return this;
        }

        /** Size in pixels; 0 for the model's default. */
        public Builder size(int w, int h) {
            this.width = w;
            this.height = h;
            return this;
        }

        /** Image-to-image from {@code image} ([1, 3, H, W] in [0, 1]); null for text-to-image. */
        public Builder initImage(Tensor image, float s) {
            this.initImage = image;
            this.strength = s;
            return this;
        }

        /** Inpainting mask [1, 1, H, W] in [0, 1], 1 = repaint; needs an init image. */
        public Builder mask(Tensor m) {
            this.mask = m;
            return this;
        }

        /** Whether the whole picture or only the masked area is repainted ({@link InpaintArea#WHOLE_PICTURE} by default). */
        public Builder inpaintArea(InpaintArea area) {
            this.inpaintArea = area;
            return this;
        }

        public Builder decodeImage(boolean decode) {
            this.decodeImage = decode;
            return this;
        }

        public Builder vaeTiling(VaeTiling tiling) {
            this.vaeTiling = tiling;
            return this;
        }

        /** SDXL's size conditioning; {@link SizeConditioning#DEFAULT} (diffusers' defaults) when not set. */
        public Builder sizeConditioning(SizeConditioning c) {
            this.sizeConditioning = c == null ? SizeConditioning.DEFAULT : c;
            return this;
        }

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
