package io.jdiffusion.cpu;

import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.backend.testing.ConformanceCase;
import io.jdiffusion.backend.testing.ProblemBuilder;
import io.jdiffusion.backend.testing.Tolerances.Accuracy;

import java.util.List;

/**
 * Conformance cases for attention over few keys, where {@link ShortKeyAttention} pads the keys to whole
 * vectors, a last panel of keys one vector wide where they end half way into a panel: 1 key (too few for it: the
 * other kernel), 7 (one vector at 256 bits, the other kernel at 512), 77 (the text encoder's tokens; 80 at 512
 * bits, the last panel half a panel wide), 80 and 81 (a whole panel at 256 bits, and one key into the next), with
 * and without the causal mask (whose cut falls inside a panel: its keys up to the cut take the one-vector tile
 * too); query counts that
 * leave a last panel of queries short and several query blocks; value heads of five vectors at 256 bits (SD
 * 1.5's heads of 40, multiplied without padding; at 128 bits heads of 20, at 512 bits heads of 80) beside
 * key heads of another size, value heads of more than two and at most three vectors, padded to three (heads of 40,
 * 44 and 48 at 512 bits, 24 at 256 bits), and value heads padded to whole panels; key heads of 36 (not whole vectors at
 * 256 bits: K^T gathered rather than transposed in registers).
 */
final class ShortKeyAttentionCases {
    private ShortKeyAttentionCases() {
    }

    static List<ConformanceCase> all() {
        return List.of(
                attention("cross b2 25x1 2 heads of 40", 2, 25, 1, 2, 40, 40, false),
                attention("cross b2 25x7 2 heads of 40", 2, 25, 7, 2, 40, 40, false),
                attention("cross b2 31x77 3 heads of 40", 2, 31, 77, 3, 40, 40, false),
                attention("cross b1 50x80 2 heads of 40", 1, 50, 80, 2, 40, 40, false),
                attention("cross b1 50x81 2 heads of 40", 1, 50, 81, 2, 40, 40, false),
                attention("cross b2 64x77 2 heads of 160 (SD 1.5's 8x8 level)", 2, 64, 77, 2, 160, 160, false),
                attention("cross b1 29x77 2 heads of 80", 1, 29, 77, 2, 80, 80, false),
                attention("cross b1 29x81 keys of 64, values of 40", 1, 29, 81, 2, 64, 40, false),
                attention("cross b1 29x77 keys of 40, values of 20", 1, 29, 77, 3, 40, 20, false),
                attention("cross b1 23x77 keys of 40, values of 80", 1, 23, 77, 2, 40, 80, false),
                attention("cross b1 23x77 keys of 36, values of 40", 1, 23, 77, 2, 36, 40, false),
                attention("self b1 37x37 keys of 40, values of 24 (three vectors at 256 bits)", 1, 37, 37, 3, 40, 24, false),
                attention("self b2 40x96 3 heads of 44 (three vectors padded at 512 bits)", 2, 40, 96, 3, 44, 44, false),
                attention("self b1 29x64 2 heads of 48 (three whole vectors at 512 bits)", 1, 29, 64, 2, 48, 48, false),
                attention("causal b2 n77 2 heads of 40", 2, 77, 77, 2, 40, 40, true),
                attention("causal b1 n80 2 heads of 64", 1, 80, 80, 2, 64, 64, true),
                attention("causal b1 n81 2 heads of 40", 1, 81, 81, 2, 40, 40, true),
                attention("causal b2 n7 2 heads of 64", 2, 7, 7, 2, 64, 64, true));
    }

    private static ConformanceCase attention(String name, long batch, long nq, long nk, int heads, long d, long dv,
                                             boolean causal) {
        return new ConformanceCase("attention few keys " + name, Accuracy.DIRECT, b -> new Value[] {
                attention(b, batch, nq, nk, heads, d, dv, causal)});
    }

    private static Value attention(ProblemBuilder b, long batch, long nq, long nk, int heads, long d, long dv, boolean causal) {
        Value q = b.input("q", batch, nq, heads * d);
        Value k = b.input("k", batch, nk, heads * d);
        Value v = b.input("v", batch, nk, heads * dv);
        return b.graph().attention(q, k, v, heads, (float) (1 / Math.sqrt(d)), causal);
    }
}
