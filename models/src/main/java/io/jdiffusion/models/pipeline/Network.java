package io.jdiffusion.models.pipeline;

import java.util.List;

/**
 * The networks of a pipeline, each one stage of a generation, by the names its executables are keyed under in
 * {@link NetworkRunner} (a key is {@code [lora set/]name/shape}): what {@link MemoryPolicy} releases when a stage
 * is over.
 */
public enum Network {
    /** The text encoders (SDXL's two): the prompt's conditioning. */
    TEXT_ENCODERS("text_encoder", "text_encoder_2"),
    /** The denoising UNet, called once per step. */
    UNET("unet"),
    /** The VAE's encoder: image-to-image and inpainting inputs to latents. */
    VAE_ENCODER("vae_encoder"),
    /** The VAE's decoder: latents to the image. */
    VAE_DECODER("vae_decoder");

    private final List<String> keyNames;

    Network(String... keyNames) {
        this.keyNames = List.of(keyNames);
    }

    /** Whether the executable keyed {@code key} is one of this network's. */
    boolean owns(String key) {
        for (String segment : key.split("/")) {
            if (keyNames.contains(segment)) {
                return true;
            }
        }
        return false;
    }
}
