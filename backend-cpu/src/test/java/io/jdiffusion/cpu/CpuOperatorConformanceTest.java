package io.jdiffusion.cpu;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.testing.ConformanceCase;
import io.jdiffusion.backend.testing.OperatorConformanceSuite;

import java.util.List;
import java.util.stream.Stream;

/**
 * The CPU backend against the float64 reference. Three threads on purpose: uneven work splits must
 * still cover every element. The build runs this class once per vector width (128, 256, 512 bits).
 * The shared cases, {@link GemmDepthCases} and {@link ShortKeyAttentionCases}.
 */
class CpuOperatorConformanceTest extends OperatorConformanceSuite {
    @Override
    protected Backend createBackend() {
        System.out.println("CPU backend: " + CpuBackendProvider.describe(3));
        return new CpuBackend(3);
    }

    @Override
    protected List<ConformanceCase> cases() {
        return Stream.concat(GemmDepthCases.withShared().stream(), ShortKeyAttentionCases.all().stream()).toList();
    }
}
