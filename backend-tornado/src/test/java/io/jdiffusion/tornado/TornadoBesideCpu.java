package io.jdiffusion.tornado;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.graph.Graph;
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

    /**
     * Compiles {@code graph} on the TornadoVM backend with TornadoVM's profiler on (so that
     * {@link TornadoExecutable#lastCopyInBytes()} counts the bytes each execution copies to the device) and, unless
     * {@code tasksPerGraph} is 0, at most that many tasks per chained task graph. Both settings are read when a graph
     * is compiled, so they are set around the compilation only.
     */
    protected TornadoExecutable compileCounted(Graph graph, Precision precision, int tasksPerGraph) {
        String tasks = System.getProperty(TornadoSettings.TASKS_PER_GRAPH);
        String profile = System.getProperty(TornadoSettings.PROFILE);
        if (tasksPerGraph > 0) {
            System.setProperty(TornadoSettings.TASKS_PER_GRAPH, Integer.toString(tasksPerGraph));
        }
        System.setProperty(TornadoSettings.PROFILE, "true");
        try {
            return (TornadoExecutable) tornado.compile(graph, precision);
        } finally {
            restore(TornadoSettings.TASKS_PER_GRAPH, tasks);
            restore(TornadoSettings.PROFILE, profile);
        }
    }

    private static void restore(String key, String before) {
        if (before == null) {
            System.clearProperty(key);
        } else {
            System.setProperty(key, before);
        }
    }
}
