package io.jdiffusion.cpu;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.testing.ConformanceCase;
import io.jdiffusion.backend.testing.OperatorConformanceSuite;

import java.util.List;

/**
 * The convolution cases (and the multi-operator graph) with Winograd F(4x4) forced onto every 3x3 stride-1
 * convolution, however small: the default policy sends small images to im2col, so without this the
 * Winograd kernel would only meet large layers. Cases with 2-byte weights are left to
 * {@link CpuF16WinogradConformanceTest}: their transformed filters are stored in F16 (the weights'
 * storage rule), which is F16 accuracy, not F32.
 */
class CpuWinogradConformanceTest extends OperatorConformanceSuite {
    @Override
    protected Backend createBackend() {
        return new CpuBackend(3, ConvAlgorithm.WINOGRAD_F4, 4096); // tiny chunks: several per image
    }

    @Override
    protected List<ConformanceCase> cases() {
        return convolutionCases().stream().filter(c -> !c.name().contains("f16")).toList();
    }

    /** The convolution cases (the shared ones and {@link GemmDepthCases}') and the multi-operator graphs. */
    static List<ConformanceCase> convolutionCases() {
        return GemmDepthCases.withShared().stream().filter(c -> c.name().startsWith("conv") || c.name().startsWith("graph")).toList();
    }
}
