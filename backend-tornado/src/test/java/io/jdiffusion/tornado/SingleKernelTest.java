package io.jdiffusion.tornado;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import io.jdiffusion.tornado.kernels.PointwiseKernels;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.exceptions.TornadoExecutionPlanException;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiFunction;

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

    /**
     * Uploads {@code out} and a NaN, runs the task "t" that {@code task} adds over the chain's fill grid for {@code n}
     * elements ({@link PointwiseKernels#FILL_PER_THREAD} a thread), downloads {@code out}.
     */
    void executeOverFillGrid(String name, int n, Object out, BiFunction<TaskGraph, FloatArray, TaskGraph> task) {
        FloatArray nan = new FloatArray(1);
        nan.init(Float.NaN);
        FloatArray unused = new FloatArray(1);
        TaskGraph g = new TaskGraph(graphName(name));
        g.transferToDevice(DataTransferMode.EVERY_EXECUTION, nan, out);
        g.task("poison", PointwiseKernels::fill, new KernelContext(), nan, 0, unused, 1);
        g = task.apply(g, nan);
        g.transferToHost(DataTransferMode.EVERY_EXECUTION, out);
        execute(g, 1, TaskGraphChain.tiles(n, PointwiseKernels.FILL_PER_THREAD));
    }

    private static WorkerGrid1D grid(int threads) {
        WorkerGrid1D grid = new WorkerGrid1D((threads + THREADS - 1) / THREADS * THREADS);
        grid.setLocalWork(THREADS, 1, 1);
        return grid;
    }
}
