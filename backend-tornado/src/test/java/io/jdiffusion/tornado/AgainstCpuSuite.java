package io.jdiffusion.tornado;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import io.jdiffusion.backend.testing.BackendOracle;
import io.jdiffusion.backend.testing.OperatorConformanceSuite;
import io.jdiffusion.backend.testing.Oracle;
import org.junit.jupiter.api.AfterAll;

/** The shared operator suite with backend-cpu as the oracle: every backend is correct when it matches backend-cpu. */
abstract class AgainstCpuSuite extends OperatorConformanceSuite {
    private Backend cpu;

    @Override
    protected Oracle oracle() {
        cpu = Backends.create("cpu");
        return new BackendOracle(cpu);
    }

    @AfterAll
    void stopCpu() {
        if (cpu != null) {
            cpu.close();
        }
    }
}
