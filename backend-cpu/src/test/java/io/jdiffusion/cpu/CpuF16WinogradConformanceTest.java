package io.jdiffusion.cpu;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.testing.ConformanceCase;
import io.jdiffusion.backend.testing.OperatorConformanceSuite;
import io.jdiffusion.backend.testing.Oracle;
import io.jdiffusion.backend.testing.Tolerances;

import java.util.List;

/**
 * The convolutions with Winograd forced onto every 3x3 stride-1 layer and 2-byte weight panels: F32 weights
 * packed as F16, and the F16 and BF16 checkpoints' weights. However large the budget for kept filters, these
 * layers transform their filters in F32 as they run, from the 2-byte tap-major weights ({@link
 * WinogradFilterStream}), so they are held to {@link CpuF16WeightsConformanceTest#F16_WEIGHTS} (F32's tolerances)
 * against the reference of the same F16-rounded weights.
 */
class CpuF16WinogradConformanceTest extends OperatorConformanceSuite {
    @Override
    protected Backend createBackend() {
        return new CpuBackend(3, new KernelOptions(ConvAlgorithm.WINOGRAD_F4, 4096, Long.MAX_VALUE, true));
    }

    @Override
    protected Oracle oracle() {
        return CpuF16WeightsConformanceTest.F16_WEIGHTS_REFERENCE;
    }

    @Override
    protected Tolerances tolerances() {
        return CpuF16WeightsConformanceTest.F16_WEIGHTS;
    }

    @Override
    protected List<ConformanceCase> cases() {
        return CpuWinogradConformanceTest.convolutionCases();
    }
}
