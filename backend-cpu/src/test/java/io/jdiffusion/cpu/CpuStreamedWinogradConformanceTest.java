package io.jdiffusion.cpu;

import io.jdiffusion.backend.Backend;

/**
 * {@link CpuWinogradConformanceTest}'s cases with no budget for kept filters: every Winograd layer transforms
 * its filters as it runs ({@link WinogradFilterStream}), over output channels that end inside an A panel and
 * input channels that end inside a vector.
 */
class CpuStreamedWinogradConformanceTest extends CpuWinogradConformanceTest {
    @Override
    protected Backend createBackend() {
        return new CpuBackend(3, new KernelOptions(ConvAlgorithm.WINOGRAD_F4, 4096, 0, false));
    }
}
