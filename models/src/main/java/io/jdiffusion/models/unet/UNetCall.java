package io.jdiffusion.models.unet;

/**
 * The shape of one UNet call: {@code batch} latents of {@code latentH} x {@code latentW}, conditioned on a
 * context of {@code contextTokens} tokens (77 per CLIP chunk). One compiled network serves one call shape.
 */
public record UNetCall(int batch, int latentH, int latentW, int contextTokens) {
    public UNetCall {
        if (batch < 1 || latentH < 1 || latentW < 1 || contextTokens < 1) {
            throw new IllegalArgumentException("UNet call needs positive sizes, got batch " + batch + ", latents "
                    + latentH + "x" + latentW + ", " + contextTokens + " context tokens");
        }
    }

    /** A name for this shape, to key its compiled network. */
    public String key() {
        return batch + "/" + latentH + "x" + latentW + "/" + contextTokens;
    }
}
