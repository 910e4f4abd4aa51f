package io.jdiffusion.models.lora;

/**
 * One low-rank pair of a LoRA file and the weight it changes: {@code W += scale * alpha / rank * up . down}.
 *
 * @param target   the model's weight
 * @param name     the module name as the file spells it (for messages)
 * @param downKey  the [rank, in] (or [rank, in, kh, kw]) tensor
 * @param upKey    the [out, rank] (or [out, rank, 1, 1]) tensor
 * @param alphaKey the 0-dim alpha, or null (then alpha = rank: a scale of 1, as diffusers/PEFT files without alpha mean)
 */
public record LoraModule(LoraTargets.Module target, String name, String downKey, String upKey, String alphaKey) {
}
