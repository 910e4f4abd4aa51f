package io.jdiffusion.server.api;

/**
 * What request mapping needs to know of the loaded model: its name (A1111's checkpoint title), the size
 * it makes when none is asked for, and the multiple every size must be (the VAE's downscale factor).
 */
public record ModelFacts(String title, int defaultWidth, int defaultHeight, int sizeMultiple) {
}
