package io.jdiffusion.models.unet;

/**
 * An added-conditioning input of the UNet beyond sample, timestep and context: a graph input named
 * {@code name} of shape [batch, width] F32 (SDXL: {@code text_embeds} [B, 1280], {@code time_ids} [B, 6]).
 */
public record AddedInput(String name, int width) {
}
