package io.jdiffusion.backend.graph;

/** Pointwise activations, standalone ({@link Op.Unary}) or fused into a producer ({@link Op.Linear}). */
public enum Activation {
    NONE,
    /** x * sigmoid(x). */
    SILU,
    /** Exact GELU with erf, PyTorch's default. */
    GELU,
    /** GELU's tanh approximation. */
    GELU_TANH,
    /** x * sigmoid(1.702 x), OpenAI CLIP's activation. */
    QUICK_GELU,
    /**
     * Gated GELU: the last dimension 2D splits into (h, gate) and the result is h * gelu(gate), of size D.
     * As diffusers' GEGLU: {@code h, gate = proj(x).chunk(2, dim=-1)}.
     */
    GEGLU;

    /** Size of the last dimension after this activation, given its size before. */
    public long outputLastDim(long inputLastDim) {
        return this == GEGLU ? inputLastDim / 2 : inputLastDim;
    }
}
