package io.jdiffusion.cpu;

import io.jdiffusion.backend.graph.Padding;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.backend.testing.ConformanceCase;
import io.jdiffusion.backend.testing.ConformanceCases;
import io.jdiffusion.backend.testing.ProblemBuilder;
import io.jdiffusion.backend.testing.Tolerances.Accuracy;
import io.jdiffusion.core.DType;

import java.util.List;
import java.util.stream.Stream;

/**
 * Convolution cases aimed at F(2x2, 3x3)'s edges, beside the shared ones: outputs of odd height and width (a
 * last tile row and column half outside), the 8x8 and 4x4 outputs the UNet's smallest levels run at, batch 1
 * and 2, 3 to 300 input channels (ending inside a vector) and output channels ending inside an A panel, with
 * bias and residual, and F16 and BF16 weights.
 */
final class WinogradF2Cases {
    private WinogradF2Cases() {
    }

    static List<ConformanceCase> all() {
        return List.of(
                conv(DType.F32, 2, 64, 7, 9, 50, true),
                conv(DType.F32, 1, 3, 7, 9, 2, false),
                conv(DType.F32, 1, 300, 8, 8, 70, true),
                conv(DType.F32, 2, 130, 8, 8, 40, true),
                conv(DType.F32, 2, 37, 4, 4, 19, true),
                conv(DType.F32, 1, 9, 3, 5, 7, true),
                conv(DType.F16, 2, 45, 7, 9, 13, true),
                conv(DType.BF16, 2, 20, 8, 8, 12, true));
    }

    /** The Winograd suites' convolution cases and these. */
    static List<ConformanceCase> withWinogradCases() {
        return Stream.concat(CpuWinogradConformanceTest.convolutionCases().stream(), all().stream()).toList();
    }

    private static ConformanceCase conv(DType weights, int n, int cin, int h, int w, int cout, boolean residual) {
        String name = "conv3x3 s1 " + n + "x" + cin + "x" + h + "x" + w + " -> " + cout + " +bias" + (residual ? " +residual" : "")
                + (weights == DType.F32 ? "" : " " + weights.name().toLowerCase() + " weights");
        return new ConformanceCase(name, Accuracy.TRANSFORMED, (ProblemBuilder b) -> new Value[] {
                ConformanceCases.conv(b, weights, n, cin, h, w, cout, 3, 3, 1, Padding.same(1), true, residual)});
    }
}
