package io.jdiffusion.tornado;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;

/**
 * The TornadoVM backend and backend-cpu, opened once for a test class and closed after it: tests that run the same
 * work on both and hold TornadoVM's result to the CPU's (every backend is correct when it matches backend-cpu).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class TornadoBesideCpu {
    protected Backend tornado;
    protected Backend cpu;

    @BeforeAll
    void openBackends() {
        tornado = Backends.create(TornadoBackendProvider.NAME);
        cpu = Backends.create("cpu");
    }

    @AfterAll
    void closeBackends() {
        tornado.close();
        cpu.close();
    }
}
