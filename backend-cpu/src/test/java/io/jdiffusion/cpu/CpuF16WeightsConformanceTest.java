package io.jdiffusion.cpu;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.testing.ConformanceCase;
import io.jdiffusion.backend.testing.OperatorConformanceSuite;
import io.jdiffusion.backend.testing.Oracle;
import io.jdiffusion.backend.testing.ReferenceOps;
import io.jdiffusion.backend.testing.Tolerances;

import java.util.List;

/**
 * Every operator with F32 weights packed as F16 panels ({@link CpuSettings#F32_WEIGHTS_AS_F16}) against the
 * float64 reference of the same weights rounded to F16 ({@link ReferenceOps#runWithF16Weights}): activations
 * and accumulation stay F32, so direct operators are held to F32's 1e-5, and the convolutions that may run as
 * Winograd to F32's 1e-4: Winograd filters are F32, kept or transformed as the layers run, so nothing is rounded
 * after the weights. (When such filters were kept in F16, F(4x4)'s output transform
 * amplified that second rounding to medians of 1.2e-3 to 2.1e-3 over fresh seeds, 4.1e-3 at worst in 8000; against
 * the unrounded weights, a 5-term dot product that nearly cancels drew 1.6e-3 from the weights' rounding alone,
 * which says nothing of the kernel.)
 * The shared cases and {@link GemmDepthCases}.
 */
class CpuF16WeightsConformanceTest extends OperatorConformanceSuite {
    static final Tolerances F16_WEIGHTS = new Tolerances(1e-5, 1e-4);

    /** The reference of the weights the backend holds. */
    static final Oracle F16_WEIGHTS_REFERENCE = ReferenceOps::runWithF16Weights;

    @Override
    protected Backend createBackend() {
        return new CpuBackend(3, new KernelOptions(ConvAlgorithm.AUTO, WinogradConv.CHUNK_FLOATS, Long.MAX_VALUE, true));
    }

    @Override
    protected Oracle oracle() {
        return F16_WEIGHTS_REFERENCE;
    }

    @Override
    protected Tolerances tolerances() {
        return F16_WEIGHTS;
    }

    @Override
    protected List<ConformanceCase> cases() {
        return GemmDepthCases.withShared();
    }
}
