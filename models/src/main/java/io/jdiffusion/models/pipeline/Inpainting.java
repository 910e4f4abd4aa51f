package io.jdiffusion.models.pipeline;

import io.jdiffusion.models.scheduler.Scheduler;

/**
 * What an inpainting chain adds to image-to-image, per diffusers' StableDiffusionInpaintPipeline:
 * <ul>
 *   <li>an inpainting UNet (9 input channels, SD 1.5-inpainting) sees
 *       {@code [scaled latents (4), mask (1), masked-image latents (4)]} at every call, and the chain is not
 *       blended;</li>
 *   <li>an ordinary UNet (4 channels) sees the latents alone, and after every step the known region is put
 *       back: {@code (1 - mask) image_latents_noised + mask latents}, the image latents noised with the
 *       chain's own initial noise to the next call's level (not noised after the last step).</li>
 * </ul>
 */
final class Inpainting {
    private final float[] latentMask;
    /** 9-channel UNets: the masked image's latents; null for blending. */
    private final float[] maskedImageLatents;
    /** 4-channel UNets: the init image's latents and the chain's initial noise; null for concatenation. */
    private final float[] imageLatents;
    private final float[] noise;

    private Inpainting(float[] latentMask, float[] maskedImageLatents, float[] imageLatents, float[] noise) {
        this.latentMask = latentMask;
        this.maskedImageLatents = maskedImageLatents;
        this.imageLatents = imageLatents;
        this.noise = noise;
    }

    /** For an inpainting UNet: the mask and the masked image's latents join the UNet input. */
    static Inpainting concatenated(float[] latentMask, float[] maskedImageLatents) {
        return new Inpainting(latentMask, maskedImageLatents, null, null);
    }

    /** For an ordinary UNet: the known region is blended back from the image latents after each step. */
    static Inpainting blended(float[] latentMask, float[] imageLatents, float[] noise) {
        return new Inpainting(latentMask, null, imageLatents, noise);
    }

    /** The UNet input of one call: {@code batch} copies of the scaled latents, with the mask channels if concatenated. */
    float[] unetInput(float[] scaled, int batch) {
        int plane = latentMask.length;
        int per = maskedImageLatents == null ? scaled.length : scaled.length + plane + maskedImageLatents.length;
        float[] out = new float[per * batch];
        for (int b = 0; b < batch; b++) {
            int at = b * per;
            System.arraycopy(scaled, 0, out, at, scaled.length);
            if (maskedImageLatents != null) {
                System.arraycopy(latentMask, 0, out, at + scaled.length, plane);
                System.arraycopy(maskedImageLatents, 0, out, at + scaled.length + plane, maskedImageLatents.length);
            }
        }
        return out;
    }

    /** The latents after the step of call {@code nextCall - 1}, with the known region restored when blending. */
    float[] afterStep(float[] latents, Scheduler scheduler, int nextCall) {
        if (imageLatents == null) {
            return latents;
        }
        float[] known = nextCall < scheduler.timesteps().length ? scheduler.addNoise(imageLatents, noise, nextCall) : imageLatents;
        int plane = latentMask.length;
        float[] out = new float[latents.length];
        for (int i = 0; i < out.length; i++) {
            float m = latentMask[i % plane];
            out[i] = (1 - m) * known[i] + m * latents[i];
        }
        return out;
    }
}
