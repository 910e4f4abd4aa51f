package io.jdiffusion.cpu;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.testing.ConformanceCase;

import java.util.List;

/**
 * {@link CpuF16WinogradConformanceTest} (2-byte weights, against the same weights rounded to F16) with
 * Winograd F(2x2, 3x3) forced, on the convolution cases and {@link WinogradF2Cases}.
 */
class CpuF16WinogradF2ConformanceTest extends CpuF16WinogradConformanceTest {
    @Override
    protected Backend createBackend() {
        return new CpuBackend(3, new KernelOptions(ConvAlgorithm.WINOGRAD_F2, 4096, Long.MAX_VALUE, true));
    }

    @Override
    protected List<ConformanceCase> cases() {
        return WinogradF2Cases.withWinogradCases();
    }
}
