package io.jdiffusion.backend.testing;

/**
 * Relative L2 error allowed against the oracle: {@code direct} for every operator computed directly,
 * {@code transformed} for 3x3 stride-1 convolutions, which a backend may run through Winograd (its
 * transforms add rounding error that grows with the tile size).
 */
public record Tolerances(double direct, double transformed) {
    /** F32 against the float64 reference: 1e-5, Winograd 1e-4. */
    public static final Tolerances F32_REFERENCE = new Tolerances(1e-5, 1e-4);

    public double of(Accuracy accuracy) {
        return accuracy == Accuracy.DIRECT ? direct : transformed;
    }

    /** Which tolerance a case uses. */
    public enum Accuracy {
        DIRECT,
        TRANSFORMED
    }
}
