package io.jdiffusion.cpu;

import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.DType;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * Which convolutions of a graph run as Winograd F(4x4,3x3) under {@link ConvAlgorithm#AUTO}, and which of them
 * keep their transformed filters.
 *
 * <p>A layer qualifies when it is 3x3 stride 1 with enough 4x4 tiles for Winograd's GEMMs to run full
 * ({@link #MIN_TILES} or more) and at least 8 input channels. Kept filters take 4x the bytes of the 3x3 weights
 * (at the weights' storage precision), so the qualifying layers share a budget: those with the most output tiles
 * are taken first (there the filters are reused across the most tiles, and transforming them as the layer runs
 * would cost the least anyway), and the rest transform their filters while they run
 * ({@link WinogradFilterStream}), from their weights stored once. Layers with non-constant weights always do.
 */
final class WinogradSelection {
    /**
     * Fewest 4x4 output tiles per image: 16x16 outputs (16 tiles) and up. Measured on one AVX2 core (8 lanes,
     * B panels of 16 tiles) with batch 2: Winograd took half the time of im2col at 16x16 (640 to 1920 input
     * channels) and 1.7x more at 8x8 (4 tiles, a quarter of a B panel).
     */
    static final int MIN_TILES = 16;

    private final Set<Op.Conv2d> qualifying = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Set<Op.Conv2d> kept = Collections.newSetFromMap(new IdentityHashMap<>());

    WinogradSelection(Graph graph, long budgetBytes, boolean f32WeightsAsF16) {
        List<Op.Conv2d> candidates = new ArrayList<>();
        for (Op op : graph.ops()) {
            if (op instanceof Op.Conv2d c && qualifies(ConvKernels.Geometry.of(c))) {
                qualifying.add(c);
                if (c.weight().kind() == Value.Kind.CONSTANT) {
                    candidates.add(c);
                }
            }
        }
        candidates.sort(Comparator.comparingLong((Op.Conv2d c) -> tiles(ConvKernels.Geometry.of(c))).reversed());
        long used = 0;
        for (Op.Conv2d c : candidates) {
            int bytesPerValue = c.weight().dtype() == DType.F32 && !f32WeightsAsF16 ? 4 : 2;
            long bytes = cachedBytes(ConvKernels.Geometry.of(c), bytesPerValue);
            if (used + bytes <= budgetBytes) {
                used += bytes;
                kept.add(c);
            }
        }
    }

    static boolean qualifies(ConvKernels.Geometry g) {
        return g.kh() == 3 && g.kw() == 3 && g.stride() == 1 && tiles(g) >= MIN_TILES && g.cin() >= 8;
    }

    /** Bytes of one layer's transformed filters: 36 positions of [cout rounded to panels, cin] values, stored as the weights are. */
    static long cachedBytes(ConvKernels.Geometry g, int bytesPerValue) {
        return bytesPerValue * WinogradConv.transformedSize(g.cout(), g.cin());
    }

    private static long tiles(ConvKernels.Geometry g) {
        return (long) ((g.ho() + 3) / 4) * ((g.wo() + 3) / 4);
    }

    /** Whether {@code op} runs as Winograd under {@link ConvAlgorithm#AUTO}. */
    boolean usesWinograd(Op.Conv2d op) {
        return qualifying.contains(op);
    }

    /** Whether {@code op}, when it runs as Winograd, keeps its transformed filters (only qualifying constant-weight layers within the budget do). */
    boolean keepsFilters(Op.Conv2d op) {
        return kept.contains(op);
    }
}
