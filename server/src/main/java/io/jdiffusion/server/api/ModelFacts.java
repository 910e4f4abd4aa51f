package io.jdiffusion.server.api;

/**
 * What request mapping needs to know of the loaded model: its A1111 name and short hash (null for a
 * folder), the sampler it uses when none is named, the size it makes when none is asked for, and the
 * multiple every size must be (the VAE's downscale factor), and whether its UNet is an inpainting one (it
 * takes the mask and masked image as input).
 */
public record ModelFacts(String name, String hash, String defaultSampler, int defaultWidth, int defaultHeight,
                         int sizeMultiple, boolean inpaintingUnet) {
}
