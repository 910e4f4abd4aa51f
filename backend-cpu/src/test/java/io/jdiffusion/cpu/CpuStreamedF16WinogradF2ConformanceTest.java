package io.jdiffusion.cpu;

import io.jdiffusion.backend.Backend;

/** {@link CpuF16WinogradF2ConformanceTest}'s cases with the F(2x2) filters transformed as each layer runs, from the 2-byte tap-major weights. */
class CpuStreamedF16WinogradF2ConformanceTest extends CpuF16WinogradF2ConformanceTest {
    @Override
    protected Backend createBackend() {
        return new CpuBackend(3, new KernelOptions(ConvAlgorithm.WINOGRAD_F2, 4096, 0, true));
    }
}
