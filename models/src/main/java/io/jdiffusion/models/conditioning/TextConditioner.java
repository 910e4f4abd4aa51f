package io.jdiffusion.models.conditioning;

import io.jdiffusion.models.clip.ClipTextEncoder;
import io.jdiffusion.models.pipeline.NetworkRunner;

import java.util.List;

/**
 * Turns prompts into what the UNet is conditioned on. A conditioner owns its tokenizer(s) and text
 * encoder(s); how prompts are read (weighting, long-prompt chunks, clip skip, several encoders) is its own
 * business, so the pipeline has no per-family branches.
 */
public interface TextConditioner {
    /**
     * Encodes {@code [negative, prompt]} (or only {@code prompt} when {@code input.guided()} is false) on
     * {@code runner}'s backend; the caller closes the result.
     *
     * @throws io.jdiffusion.models.config.ModelLoadException when the model has no tokenizer (a single-file
     *                                                        checkpoint loaded without one), saying what to supply
     */
    Conditioning encode(ConditioningInput input, NetworkRunner runner);

    /**
     * This conditioner with {@code encoders} (the model's own text encoders, in order, some with LoRAs
     * merged) in place of its text encoders; executables it compiles for encoder i are keyed under
     * {@code executableKeys.get(i)} so they stay apart from the base encoder's (an empty key: the model's
     * own encoder and executables).
     */
    TextConditioner withTextEncoders(List<ClipTextEncoder> encoders, List<String> executableKeys);

    /** Width of the context's last dimension (the UNet's cross-attention dimension). */
    int contextDim();
}
