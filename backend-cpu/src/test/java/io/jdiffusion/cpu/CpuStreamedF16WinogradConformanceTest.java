package io.jdiffusion.cpu;

import io.jdiffusion.backend.Backend;

/**
 * {@link CpuF16WinogradConformanceTest}'s cases (2-byte weights) with no budget for kept filters: the filters
 * are transformed in F32, as each layer runs, from the weights' 2-byte tap-major copy.
 */
class CpuStreamedF16WinogradConformanceTest extends CpuF16WinogradConformanceTest {
    @Override
    protected Backend createBackend() {
        return new CpuBackend(3, new KernelOptions(ConvAlgorithm.WINOGRAD_F4, 4096, 0, true));
    }
}
