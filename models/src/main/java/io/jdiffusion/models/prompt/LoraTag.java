package io.jdiffusion.models.prompt;

/**
 * A {@code <lora:NAME:TE:UNET>} tag of a prompt: the LoRA's name (a file stem in the LoRA folder) and its
 * weights for the text encoder and the UNet, with {@code text} the tag as written.
 */
public record LoraTag(String name, double textEncoderWeight, double unetWeight, String text) {
}
