package io.jdiffusion.cpu;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.testing.ConformanceCase;
import io.jdiffusion.backend.testing.OperatorConformanceSuite;

import java.util.List;

/**
 * The convolution cases and {@link WinogradF2Cases} with Winograd F(2x2, 3x3) forced onto every 3x3 stride-1
 * layer, its filters kept (transformed once, at compile time), in tiny chunks (several per image). Cases
 * with 2-byte weights are left to {@link CpuF16WinogradF2ConformanceTest}.
 */
class CpuWinogradF2ConformanceTest extends OperatorConformanceSuite {
    @Override
    protected Backend createBackend() {
        return new CpuBackend(3, new KernelOptions(ConvAlgorithm.WINOGRAD_F2, 4096, Long.MAX_VALUE, false));
    }

    @Override
    protected List<ConformanceCase> cases() {
        return WinogradF2Cases.withWinogradCases().stream().filter(c -> !c.name().contains("f16")).toList();
    }
}
