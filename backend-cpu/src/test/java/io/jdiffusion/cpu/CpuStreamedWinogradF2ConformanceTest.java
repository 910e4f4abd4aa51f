package io.jdiffusion.cpu;

import io.jdiffusion.backend.Backend;

/** {@link CpuWinogradF2ConformanceTest}'s cases with F(2x2) filters transformed as each layer runs ({@link WinogradFilterStream}). */
class CpuStreamedWinogradF2ConformanceTest extends CpuWinogradF2ConformanceTest {
    @Override
    protected Backend createBackend() {
        return new CpuBackend(3, new KernelOptions(ConvAlgorithm.WINOGRAD_F2, 4096, 0, false));
    }
}
