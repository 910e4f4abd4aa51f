package io.jdiffusion.tornado;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import io.jdiffusion.backend.testing.BackendOracle;
import io.jdiffusion.backend.testing.OperatorConformanceSuite;
import io.jdiffusion.backend.testing.Oracle;
import io.jdiffusion.backend.testing.Tolerances;
import org.junit.jupiter.api.AfterAll;

/**
 * Every operator of the SPI on the TornadoVM device chosen by -Djdiffusion.tornado.device (PoCL on a
 * CPU machine, the GPU on a GPU machine), against backend-cpu, in F32: relative L2 error at most 1e-4.
 */
class TornadoConformanceTest extends OperatorConformanceSuite {
    static final Tolerances F32_AGAINST_CPU = new Tolerances(1e-4, 1e-4);

    private Backend cpu;

    @Override
    protected Backend createBackend() {
        return Backends.create(TornadoBackendProvider.NAME);
    }

    @Override
    protected Oracle oracle() {
        cpu = Backends.create("cpu");
        return new BackendOracle(cpu);
    }

    @Override
    protected Tolerances tolerances() {
        return F32_AGAINST_CPU;
    }

    @AfterAll
    void stopCpu() {
        if (cpu != null) {
            cpu.close();
        }
    }
}
