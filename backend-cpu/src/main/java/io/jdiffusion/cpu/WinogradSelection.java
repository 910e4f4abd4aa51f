package io.jdiffusion.cpu;

import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Value;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The one place that decides how each convolution of a graph runs: as Winograd with which tile
 * ({@link WinogradTile}), or as im2col GEMM, and which Winograd layers keep their transformed filters.
 *
 * <p>Under {@link ConvAlgorithm#AUTO} a 3x3 stride-1 layer with at least 8 input channels takes the largest tile
 * of which one image's output has {@link #MIN_TILES} or more: F(4x4) from 16x16 outputs up, F(2x2) for 8x8 to
 * 15x15, im2col below. The forced algorithms put every 3x3 stride-1 layer on one tile (benchmarks, tests).
 *
 * <p>Kept filters are F32, whatever the weights' storage, and take 4x (F(4x4)) or 1.8x (F(2x2)) the bytes of F32
 * 3x3 weights (8x and 3.6x those of 2-byte weights), so the Winograd layers share a budget: those with the most
 * output tiles are taken first, and the rest transform their filters while they run ({@link WinogradFilterStream}),
 * from their weights stored once. Layers with non-constant weights always do, and so does every layer when F32
 * weights are packed as F16 to save memory ({@link KernelOptions#f32WeightsAsF16}). Filters kept in 2 bytes were
 * tried: a second rounding, and widened at every call they made SD 1.5's UNet no faster than transforming them (F16
 * weights, 2026-12-06: 7173 against 7110 ms a call at 512x512, 1.9 GiB more); kept in F32 they took the sum of its
 * operators' fastest calls from 7189-7313 to 6432-6588 ms, for 4.9 GiB. Kept filters saved the most per byte where
 * tiles are many: in SD 1.5's UNet at 512x512 (2026-12-06, two threads, F32 weights) 120-170 ms per GiB on the 32x32
 * level's layers, 35-50 ms per GiB on the 16x16 and 8x8 levels'.
 */
final class WinogradSelection {
    /**
     * Fewest output tiles per image for a tile size to be chosen. Measured on one AVX2 core (8 lanes, B panels
     * of 16 tiles) with batch 2, filters transformed as the layer runs ({@code bench ops --threads 1 --rounds 3
     * --filter "conv3x3 8x8"}, and "4x4"; least CPU time): F(4x4) took half the time of im2col at 16x16 (16
     * tiles; 640 to 1920 input channels); at 8x8 (4 F(4x4) tiles, a quarter of a B panel; 16 F(2x2) tiles)
     * F(2x2) took 1.32x (1280 input channels) and 1.58x (2560) less time than im2col, F(4x4) 1.09-1.22x less;
     * at 4x4 (4 F(2x2) tiles) F(2x2) took 1.45-1.56x more than im2col.
     */
    static final int MIN_TILES = 16;

    private final Map<Op.Conv2d, WinogradTile> tiles = new IdentityHashMap<>();
    private final Set<Op.Conv2d> kept = Collections.newSetFromMap(new IdentityHashMap<>());

    WinogradSelection(Graph graph, KernelOptions options) {
        List<Op.Conv2d> candidates = new ArrayList<>();
        for (Op op : graph.ops()) {
            if (op instanceof Op.Conv2d c) {
                WinogradTile tile = choose(options.convAlgorithm(), ConvKernels.Geometry.of(c));
                if (tile != null) {
                    tiles.put(c, tile);
                    if (c.weight().kind() == Value.Kind.CONSTANT && !options.f32WeightsAsF16()) {
                        candidates.add(c);
                    }
                }
            }
        }
        candidates.sort(Comparator.comparingLong((Op.Conv2d c) -> tileCount(c)).reversed());
        long used = 0;
        for (Op.Conv2d c : candidates) {
            long bytes = cachedBytes(tiles.get(c), ConvKernels.Geometry.of(c));
            if (used + bytes <= options.winogradCacheBytes()) {
                used += bytes;
                kept.add(c);
            }
        }
    }

    /**
     * The tile a layer of geometry {@code g} runs with under {@code algorithm}; {@code null}: not Winograd, so im2col,
     * or {@link FewOutputsConv}'s direct path for a layer with few output channels whatever the algorithm
     * ({@link ConvKernels#compile}). AUTO leaves those layers to it, as Winograd would transform a whole input for them.
     */
    static WinogradTile choose(ConvAlgorithm algorithm, ConvKernels.Geometry g) {
        if (g.kh() != 3 || g.kw() != 3 || g.stride() != 1) {
            return null;
        }
        return switch (algorithm) {
            case IM2COL -> null;
            case WINOGRAD_F4 -> WinogradTile.F4;
            case WINOGRAD_F2 -> WinogradTile.F2;
            case AUTO -> g.cin() < 8 || FewOutputsConv.applies(g) ? null
                    : WinogradTile.F4.tiles(g.ho(), g.wo()) >= MIN_TILES ? WinogradTile.F4
                    : WinogradTile.F2.tiles(g.ho(), g.wo()) >= MIN_TILES ? WinogradTile.F2
                    : null;
        };
    }

    /** Bytes of one layer's kept filters: n^2 positions of [cout rounded to panels, cin] F32 values. */
    static long cachedBytes(WinogradTile tile, ConvKernels.Geometry g) {
        return Float.BYTES * WinogradConv.transformedSize(tile, g.cout(), g.cin());
    }

    private long tileCount(Op.Conv2d c) {
        ConvKernels.Geometry g = ConvKernels.Geometry.of(c);
        return tiles.get(c).tiles(g.ho(), g.wo());
    }

    /** The Winograd tile {@code op} runs with, or {@code null} where it runs as im2col GEMM. */
    WinogradTile tile(Op.Conv2d op) {
        return tiles.get(op);
    }

    /** Whether {@code op}, a Winograd layer, keeps its transformed filters (only constant-weight layers within the budget do). */
    boolean keepsFilters(Op.Conv2d op) {
        return kept.contains(op);
    }
}
