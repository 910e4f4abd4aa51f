package io.jdiffusion.models.lora;

import java.nio.file.Path;

/**
 * A LoRA file as a request asks for it: {@code --lora FILE:W} or {@code <lora:NAME:W>} (weight W for both
 * networks), {@code <lora:NAME:TE:UNET>} or {@code te=}/{@code unet=} (separate weights, as A1111).
 *
 * @param tag the text as it appeared in the prompt ({@code <lora:name:0.8>}), or null for {@code --lora}
 */
public record LoraUse(Path file, double textEncoderWeight, double unetWeight, String tag) {
    public LoraUse {
        if (file == null) {
            throw new LoraException("a LoRA needs a file");
        }
        if (!Double.isFinite(textEncoderWeight) || !Double.isFinite(unetWeight)) {
            throw new LoraException("LoRA " + file.getFileName() + ": weight must be a finite number");
        }
    }

    /** The same weight for the text encoder and the UNet. */
    public static LoraUse of(Path file, double weight) {
        return new LoraUse(file, weight, weight, null);
    }
}
