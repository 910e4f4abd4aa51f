package io.jdiffusion.cpu;

import io.jdiffusion.backend.graph.Padding;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.backend.testing.ConformanceCase;
import io.jdiffusion.backend.testing.ConformanceCases;
import io.jdiffusion.backend.testing.ProblemBuilder;
import io.jdiffusion.backend.testing.Tolerances.Accuracy;
import io.jdiffusion.core.DType;

import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * Conformance cases for convolutions deep enough that {@link Gemm} splits their depth into chunks (partial sums
 * gathered per block of C, the epilogue after the last chunk), placed around this backend's own limits: im2col
 * depths just past {@link Gemm#MAX_UNCHUNKED_DEPTH} and just within it, depths that are no multiple of
 * {@link Gemm#DEPTH_CHUNK}, a depth of many chunks on both the im2col and the Winograd path, output channels
 * spanning two A blocks and a partial panel, F32 and F16 weights, bias and residual, batch 2. The CPU
 * conformance suites (F32 and F16 panels, im2col and Winograd) run them beside the shared cases.
 */
final class GemmDepthCases {
    private GemmDepthCases() {
    }

    static List<ConformanceCase> all() {
        int limit = Gemm.MAX_UNCHUNKED_DEPTH, chunk = Gemm.DEPTH_CHUNK;
        int justPast = limit / 9 + 1, within = limit / 9, many = limit + chunk / 2 + 17;
        return List.of(
                transformed("conv3x3 s1 2x" + justPast + "x6x7 -> 20 +bias +residual (depth just past the one-pass limit)",
                        b -> conv(b, DType.F32, justPast, 6, 7, 20, 3)),
                transformed("conv3x3 s1 2x" + within + "x5x5 -> 13 +bias +residual (depth within the one-pass limit)",
                        b -> conv(b, DType.F32, within, 5, 5, 13, 3)),
                transformed("conv3x3 s1 2x" + justPast + "x4x4 -> 200 +bias +residual (two A blocks, chunked)",
                        b -> conv(b, DType.F32, justPast, 4, 4, 200, 3)),
                transformed("conv3x3 s1 2x" + many + "x8x8 -> 12 +bias +residual (chunked on both paths)",
                        b -> conv(b, DType.F32, many, 8, 8, 12, 3)),
                transformed("conv3x3 s1 2x" + (justPast + 7) + "x4x4 -> 24 +bias +residual f16 weights (chunked)",
                        b -> conv(b, DType.F16, justPast + 7, 4, 4, 24, 3)),
                direct("conv1x1 2x" + (limit + chunk + 5) + "x3x5 -> 30 +bias +residual (chunked)",
                        b -> conv(b, DType.F32, limit + chunk + 5, 3, 5, 30, 1)));
    }

    /** The shared cases and these. */
    static List<ConformanceCase> withShared() {
        return Stream.concat(ConformanceCases.all().stream(), all().stream()).toList();
    }

    private static Value[] conv(ProblemBuilder b, DType weights, int cin, int h, int w, int cout, int kernel) {
        return new Value[] {ConformanceCases.conv(b, weights, 2, cin, h, w, cout, kernel, kernel, 1, Padding.same(kernel / 2),
                true, true)};
    }

    private static ConformanceCase direct(String name, Function<ProblemBuilder, Value[]> recipe) {
        return new ConformanceCase(name, Accuracy.DIRECT, recipe);
    }

    private static ConformanceCase transformed(String name, Function<ProblemBuilder, Value[]> recipe) {
        return new ConformanceCase(name, Accuracy.TRANSFORMED, recipe);
    }
}
