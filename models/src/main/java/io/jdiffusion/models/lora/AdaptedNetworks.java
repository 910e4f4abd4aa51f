package io.jdiffusion.models.lora;

import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.clip.ClipTextEncoder;
import io.jdiffusion.models.unet.UNet2DConditionModel;

import java.util.List;

/**
 * The UNet and text encoder a request runs, with its LoRAs merged. A network no LoRA changes is the model's
 * own object with an empty key; a changed one has a key naming its LoRA set, which callers put into the keys
 * of compiled executables so that each set compiles once and the base executables stay valid.
 *
 * @param owned the merged weight copies, freed by {@link #close()}
 */
public record AdaptedNetworks(UNet2DConditionModel unet, String unetKey, ClipTextEncoder textEncoder,
                              String textEncoderKey, List<Tensor> owned) implements AutoCloseable {
    public AdaptedNetworks {
        owned = List.copyOf(owned);
    }

    /** Whether both networks are the base model's. */
    public boolean isBase() {
        return unetKey.isEmpty() && textEncoderKey.isEmpty();
    }

    @Override
    public void close() {
        owned.forEach(Tensor::close);
    }
}
