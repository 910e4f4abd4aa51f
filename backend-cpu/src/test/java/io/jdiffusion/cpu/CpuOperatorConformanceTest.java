package io.jdiffusion.cpu;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.testing.ConformanceCase;
import io.jdiffusion.backend.testing.OperatorConformanceSuite;
import io.jdiffusion.backend.testing.Tolerances;

import java.util.List;
import java.util.stream.Stream;

/**
 * The CPU backend against the float64 reference. Three threads on purpose: uneven work splits must
 * still cover every element. The build runs this class once per vector width (128, 256, 512 bits).
 * The shared cases, {@link GemmDepthCases} and {@link ShortKeyAttentionCases}, less the 3x3 stride-1 convolutions
 * with 2-byte weights: where those run as Winograd the backend keeps their filters in 2 bytes too (the weights'
 * storage rule), an F16 rounding after the transform that the F32 tolerance does not allow.
 * {@link CpuF16WeightsConformanceTest} holds them to the F16-weights tolerance with the same options (automatic
 * algorithm, filters kept), and {@link CpuStreamedF16WinogradConformanceTest} with the filters transformed as
 * the layers run.
 */
class CpuOperatorConformanceTest extends OperatorConformanceSuite {
    @Override
    protected Backend createBackend() {
        System.out.println("CPU backend: " + CpuBackendProvider.describe(3));
        return new CpuBackend(3);
    }

    @Override
    protected List<ConformanceCase> cases() {
        return Stream.concat(GemmDepthCases.withShared().stream(), ShortKeyAttentionCases.all().stream())
                .filter(c -> !(c.accuracy() == Tolerances.Accuracy.TRANSFORMED && c.name().contains("f16 weights")))
                .toList();
    }
}
