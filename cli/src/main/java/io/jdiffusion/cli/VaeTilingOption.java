package io.jdiffusion.cli;

import io.jdiffusion.models.pipeline.GenerationRequest;
import picocli.CommandLine.Option;

import java.util.Locale;

/** {@code --vae-tiling [on|off|auto]}, shared by generate and bench. */
final class VaeTilingOption {
    @Option(names = "--vae-tiling", arity = "0..1", fallbackValue = "on", defaultValue = "auto", paramLabel = "on|off|auto",
            description = "Decode the image in overlapping tiles of the VAE's size (as diffusers' enable_tiling), so the "
                    + "decoder holds one tile's activations. Bare --vae-tiling means on; default auto: tiles above twice "
                    + "the VAE's size in pixels (768x768 and up for SD 1.5), except on a GPU where the whole image's "
                    + "decoder takes at most a quarter of its memory.")
    String value;

    GenerationRequest.VaeTiling mode() {
        return switch (value.strip().toLowerCase(Locale.ROOT)) {
            case "on" -> GenerationRequest.VaeTiling.ON;
            case "off" -> GenerationRequest.VaeTiling.OFF;
            case "auto" -> GenerationRequest.VaeTiling.AUTO;
            default -> throw new IllegalArgumentException("--vae-tiling must be on, off or auto, got '" + value + "'");
        };
    }
}
