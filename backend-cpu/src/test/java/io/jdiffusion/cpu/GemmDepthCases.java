package io.jdiffusion.cpu;

import io.jdiffusion.backend.graph.Activation;
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
 * Conformance cases for deep convolutions, the products whose A panels or im2col B panels outgrow L2 (SD's
 * im2col layers have depths of 5760-23040): im2col depths around 4096 (456 and 455 input channels of 3x3), a
 * depth of 38169 on both the im2col and the Winograd path, output channels spanning two A blocks and a partial
 * panel, F32 and F16 weights, bias and residual, batch 2; and linear layers with enough rows for a task per A block
 * and enough B panels for several sweeps ({@code Gemm.sweepPanels}: 2, 5 and 10 panels of depth 1500 at 512, 256 and
 * 128 bits), the last one partial. The CPU conformance suites (F32 and F16 panels, im2col and Winograd) run them
 * beside the shared cases.
 */
final class GemmDepthCases {
    private GemmDepthCases() {
    }

    static List<ConformanceCase> all() {
        return List.of(
                transformed("conv3x3 s1 2x456x6x7 -> 20 +bias +residual (depth 4104)",
                        b -> conv(b, DType.F32, 456, 6, 7, 20, 3)),
                transformed("conv3x3 s1 2x455x5x5 -> 13 +bias +residual (depth 4095)",
                        b -> conv(b, DType.F32, 455, 5, 5, 13, 3)),
                transformed("conv3x3 s1 2x456x4x4 -> 200 +bias +residual (two A blocks)",
                        b -> conv(b, DType.F32, 456, 4, 4, 200, 3)),
                transformed("conv3x3 s1 2x4241x8x8 -> 12 +bias +residual (depth 38169)",
                        b -> conv(b, DType.F32, 4241, 8, 8, 12, 3)),
                transformed("conv3x3 s1 2x463x4x4 -> 24 +bias +residual f16 weights (depth 4167)",
                        b -> conv(b, DType.F16, 463, 4, 4, 24, 3)),
                direct("conv1x1 2x4357x3x5 -> 30 +bias +residual (depth 4357)",
                        b -> conv(b, DType.F32, 4357, 3, 5, 30, 1)),
                // B packed inside the GEMM's tasks (ConvKernels.packsBInTasks at 3 threads, every vector width; at 512
                // bits blocks of 2 panels, one across the two images, and 5 A blocks with a partial panel): the 1x1
                // and the im2col packer
                direct("conv1x1 2x1000x12x13 -> 200 +bias +residual (B packed in tasks)",
                        b -> conv(b, DType.F32, 1000, 12, 13, 200, 1)),
                direct("conv1x1 2x1000x12x13 -> 200 +bias +residual f16 weights (B packed in tasks)",
                        b -> conv(b, DType.F16, 1000, 12, 13, 200, 1)),
                transformed("conv3x3 s1 2x7x50x50 -> 5 +bias +residual (im2col B packed in tasks)",
                        b -> conv(b, DType.F32, 7, 50, 50, 5, 3)),
                // at most 4 output channels, stride 1: FewOutputsConv (rows of 37 pixels end in a partial tile at
                // every vector width; 3 channels leave a tile row of padding)
                transformed("conv3x3 s1 2x320x9x37 -> 4 +bias +residual (few outputs)",
                        b -> conv(b, DType.F32, 320, 9, 37, 4, 3)),
                transformed("conv3x3 s1 2x320x9x37 -> 3 +bias +residual f16 weights (few outputs)",
                        b -> conv(b, DType.F16, 320, 9, 37, 3, 3)),
                direct("conv1x1 2x40x5x7 -> 4 +bias +residual (few outputs)",
                        b -> conv(b, DType.F32, 40, 5, 7, 4, 1)),
                direct("linear 2x550x1500 -> 200 +bias +residual (B panels in sweeps)",
                        b -> linear(b, DType.F32, Activation.NONE, 200)),
                direct("linear 2x550x1500 -> 200 +bias +residual f16 weights (B panels in sweeps)",
                        b -> linear(b, DType.F16, Activation.NONE, 200)),
                direct("linear 2x550x1500 -> geglu 150 +bias +residual bf16 weights (B panels in sweeps)",
                        b -> linear(b, DType.BF16, Activation.GEGLU, 300)));
    }

    /** The shared cases and these. */
    static List<ConformanceCase> withShared() {
        return Stream.concat(ConformanceCases.all().stream(), all().stream()).toList();
    }

    private static Value[] conv(ProblemBuilder b, DType weights, int cin, int h, int w, int cout, int kernel) {
        return new Value[] {ConformanceCases.conv(b, weights, 2, cin, h, w, cout, kernel, kernel, 1, Padding.same(kernel / 2),
                true, true)};
    }

    private static Value[] linear(ProblemBuilder b, DType weights, Activation act, int n) {
        return new Value[] {ConformanceCases.linear(b, weights, true, act, true, n, 2, 550, 1500)};
    }

    private static ConformanceCase direct(String name, Function<ProblemBuilder, Value[]> recipe) {
        return new ConformanceCase(name, Accuracy.DIRECT, recipe);
    }

    private static ConformanceCase transformed(String name, Function<ProblemBuilder, Value[]> recipe) {
        return new ConformanceCase(name, Accuracy.TRANSFORMED, recipe);
    }
}
