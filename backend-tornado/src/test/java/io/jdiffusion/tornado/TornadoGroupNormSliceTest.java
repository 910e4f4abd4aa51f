package io.jdiffusion.tornado;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import io.jdiffusion.backend.testing.ConformanceCase;
import io.jdiffusion.backend.testing.Tolerances;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import java.util.List;

/**
 * The split GroupNorms of {@link TornadoConformanceTest} with a slice length other than the default
 * ({@value #SLICE} elements: not a power of two, nor a multiple of the kernels' four loads of 256 threads), which
 * {@value TornadoSettings#GROUP_NORM_SLICE} sets for this class's compilations: the slice length is a kernel
 * argument, so every one must give the CPU's result. At this length the cases split into 13, 24 and 1416 slices.
 */
class TornadoGroupNormSliceTest extends AgainstCpuSuite {
    static final int SLICE = 3000;
    private TemporaryProperties slice;

    @BeforeAll
    void setSlice() {
        slice = TemporaryProperties.set(TornadoSettings.GROUP_NORM_SLICE, Integer.toString(SLICE));
    }

    @AfterAll
    void restoreSlice() {
        slice.close();
    }

    @Override
    protected Backend createBackend() {
        return Backends.create(TornadoBackendProvider.NAME);
    }

    @Override
    protected Tolerances tolerances() {
        return TornadoConformanceTest.F32_AGAINST_CPU;
    }

    @Override
    protected List<ConformanceCase> cases() {
        return TornadoConformanceTest.splitGroupNorms();
    }
}
