package io.jdiffusion.models.lora;

import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.clip.ClipTextEncoder;
import io.jdiffusion.models.unet.UNet2DConditionModel;

import java.util.List;

/**
 * The UNet and text encoders a request runs, with its LoRAs merged. A network no LoRA changes is the model's
 * own object with an empty key; a changed one has a key naming its LoRA set, which callers put into the keys
 * of compiled executables so that each set compiles once and the base executables stay valid.
 *
 * @param textEncoders    the model's text encoders in order (one for SD 1.x/2.x, two for SDXL)
 * @param textEncoderKeys one key per text encoder
 * @param owned           the merged weight copies, freed by {@link #close()}
 */
public record AdaptedNetworks(UNet2DConditionModel unet, String unetKey, List<ClipTextEncoder> textEncoders,
                              List<String> textEncoderKeys, List<Tensor> owned) implements AutoCloseable {
    public AdaptedNetworks {
        textEncoders = List.copyOf(textEncoders);
        textEncoderKeys = List.copyOf(textEncoderKeys);
        owned = List.copyOf(owned);
        if (textEncoders.size() != textEncoderKeys.size()) {
            throw new IllegalArgumentException(textEncoders.size() + " text encoders but " + textEncoderKeys.size() + " keys");
        }
    }

    /** The first (SD 1.x/2.x: the only) text encoder. */
    public ClipTextEncoder textEncoder() {
        return textEncoders.getFirst();
    }

    /** The first text encoder's key. */
    public String textEncoderKey() {
        return textEncoderKeys.getFirst();
    }

    /** Whether no text encoder is changed. */
    public boolean baseTextEncoders() {
        return textEncoderKeys.stream().allMatch(String::isEmpty);
    }

    /** Whether all networks are the base model's. */
    public boolean isBase() {
        return unetKey.isEmpty() && baseTextEncoders();
    }

    /** The keys of the changed networks (what a dropped set's executables are keyed under). */
    public List<String> changedKeys() {
        return java.util.stream.Stream.concat(java.util.stream.Stream.of(unetKey), textEncoderKeys.stream())
                .filter(k -> !k.isEmpty()).toList();
    }

    @Override
    public void close() {
        owned.forEach(Tensor::close);
    }
}
