package io.jdiffusion.tornado.nvidia;

/**
 * The shape of one F16 attention on cuDNN ({@link SdpaGraphPlan}): Q [batch, queries, heads x d], K and V
 * [batch, keys, heads x d], O like Q, each row-major and contiguous; no mask.
 */
public record SdpaShape(int batch, int heads, int queries, int keys, int d, float scale) {
    /** The widest head cuDNN's fused attention takes. */
    public static final int MAX_HEAD = 256;

    public SdpaShape {
        if (batch < 1 || heads < 1 || queries < 1 || keys < 1 || d < 1) {
            throw new IllegalArgumentException("attention of batch " + batch + ", " + heads + " heads, " + queries + " queries, "
                    + keys + " keys, heads of " + d);
        }
        if (d % 8 != 0 || d > MAX_HEAD) {
            throw new IllegalArgumentException("cuDNN's attention takes heads of a multiple of 8 up to " + MAX_HEAD + ", not " + d);
        }
    }

    /** cuDNN's dimensions of a [batch, sequence, heads x d] operand: [batch, heads, sequence, d]. */
    long[] dims(int sequence) {
        return new long[]{batch, heads, sequence, d};
    }

    /** The strides, in elements, that read those dimensions from the row-major [batch, sequence, heads x d] layout. */
    long[] strides(int sequence) {
        return new long[]{(long) sequence * heads * d, d, (long) heads * d, 1};
    }

    /** Elements of a [batch, sequence, heads x d] operand. */
    public long elements(int sequence) {
        return (long) batch * sequence * heads * d;
    }

    @Override
    public String toString() {
        return "attention batch " + batch + ", " + heads + " heads of " + d + ", " + queries + " queries x " + keys + " keys (F16)";
    }
}
