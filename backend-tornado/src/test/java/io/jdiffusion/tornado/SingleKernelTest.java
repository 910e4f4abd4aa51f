package io.jdiffusion.tornado;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.exceptions.TornadoExecutionPlanException;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Base of the tests that run single kernels on the tests' TornadoVM device: a task graph with a task "poison"
 * (NaN into the outputs, on the device: TornadoVM does not upload an array that kernels only write) and the
 * task "t" under test, each over a 1-D grid of {@link #THREADS}-thread work-groups.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class SingleKernelTest {
    static final int THREADS = 64;
    private static final AtomicInteger GRAPHS = new AtomicInteger();
    private Backend backend;
    private TornadoDevice device;

    @BeforeAll
    void startBackend() {
        backend = Backends.create(TornadoBackendProvider.NAME);
        device = ((TornadoBackend) backend).device();
    }

    @AfterAll
    void stopBackend() {
        backend.close();
    }

    TornadoDevice device() {
        return device;
    }

    /** A task-graph name not used before in this JVM. */
    static String graphName(String prefix) {
        return prefix + GRAPHS.incrementAndGet();
    }

    /** Runs {@code g} once, its task "poison" over {@code poisonThreads} threads and "t" over {@code threads}. */
    void execute(TaskGraph g, int poisonThreads, int threads) {
        GridScheduler grids = new GridScheduler(g.getTaskGraphName() + ".t", grid(threads));
        grids.addWorkerGrid(g.getTaskGraphName() + ".poison", grid(poisonThreads));
        try (TornadoExecutionPlan plan = new TornadoExecutionPlan(g.snapshot())) {
            plan.withGridScheduler(grids).withDevice(device).execute();
        } catch (TornadoExecutionPlanException e) {
            throw new IllegalStateException(e);
        }
    }

    private static WorkerGrid1D grid(int threads) {
        WorkerGrid1D grid = new WorkerGrid1D((threads + THREADS - 1) / THREADS * THREADS);
        grid.setLocalWork(THREADS, 1, 1);
        return grid;
    }
}
