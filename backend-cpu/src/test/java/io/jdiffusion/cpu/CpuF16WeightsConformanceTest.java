package io.jdiffusion.cpu;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.testing.OperatorConformanceSuite;
import io.jdiffusion.backend.testing.Tolerances;

/**
 * Every operator with F32 weights packed as F16 panels ({@link CpuSettings#F32_WEIGHTS_AS_F16}) against the
 * float64 reference of the unrounded F32 weights: the error is F16 rounding of the weights alone (activations
 * and accumulation stay F32). F16 tolerance: 1e-3 relative L2 for direct operators, 3e-3 for Winograd, whose
 * transformed filters are rounded to F16 as well.
 */
class CpuF16WeightsConformanceTest extends OperatorConformanceSuite {
    static final Tolerances F16_WEIGHTS = new Tolerances(1e-3, 3e-3);

    @Override
    protected Backend createBackend() {
        return new CpuBackend(3, new KernelOptions(ConvAlgorithm.AUTO, WinogradConv.CHUNK_FLOATS, Long.MAX_VALUE, true));
    }

    @Override
    protected Tolerances tolerances() {
        return F16_WEIGHTS;
    }
}
