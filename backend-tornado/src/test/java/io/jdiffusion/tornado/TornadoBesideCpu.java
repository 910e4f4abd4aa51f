package io.jdiffusion.tornado;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import io.jdiffusion.backend.DeviceTensor;
import io.jdiffusion.backend.Executable;
import io.jdiffusion.backend.HostRunner;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.backend.testing.BackendOracle;
import io.jdiffusion.backend.testing.ConformanceCase;
import io.jdiffusion.backend.testing.PoisonedOutputs;
import io.jdiffusion.backend.testing.Problem;
import io.jdiffusion.backend.testing.TestRandom;
import io.jdiffusion.core.Numerics;
import io.jdiffusion.core.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;

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
        String[] settings = tasksPerGraph > 0
                ? new String[]{TornadoSettings.PROFILE, "true", TornadoSettings.TASKS_PER_GRAPH, Integer.toString(tasksPerGraph)}
                : new String[]{TornadoSettings.PROFILE, "true"};
        try (TemporaryProperties ignored = TemporaryProperties.set(settings)) {
            return (TornadoExecutable) tornado.compile(graph, precision);
        }
    }

    /**
     * One run of {@code exe} against backend-cpu's run of {@code graph}: a fresh random input (standard normal, the
     * shape of the graph's only input) uploaded into {@code input}, {@code output} poisoned before the run, the
     * relative L2 error at most {@code tolerance}. The executable's counters of the run can be read afterwards.
     */
    protected void runBesideCpu(Executable exe, Graph graph, DeviceTensor input, DeviceTensor output, TestRandom random,
                                double tolerance, String label) {
        Value out = graph.outputs().getFirst();
        try (Tensor x = random.normal(graph.inputs().getFirst().shape(), 1); Tensor actual = Tensor.allocate(out.shape(), out.dtype())) {
            tornado.upload(x, input);
            PoisonedOutputs.poison(tornado, output);
            exe.run(List.of(input), List.of(output));
            tornado.download(output, actual);
            try (Tensor expected = HostRunner.run(cpu, graph, List.of(x)).getFirst()) {
                assertThat(Numerics.relativeL2(actual, expected)).as("%s; %s", label, random).isLessThanOrEqualTo(tolerance);
            }
        }
    }

    /**
     * One case as an executable of the TornadoVM backend against backend-cpu: {@code staged}, its values in the
     * activation arena (else graph inputs and outputs), outputs poisoned before each of two runs (the second replays
     * the CUDA graph the first captured), each run's relative L2 error at most {@code tolerance}. {@code firstRun} is
     * asked before the first run for a check to make after it (that the case took the library route it is there to
     * test: {@link #raises}). Prints each case's error, under {@code label}, for the log of a GPU run.
     */
    protected void checkTwoRuns(ConformanceCase c, Precision precision, double tolerance, boolean staged, String label,
                                Supplier<Runnable> firstRun) {
        checkTwoRuns(c, precision, tolerance, staged, label, firstRun, false);
    }

    /**
     * As {@link #checkTwoRuns(ConformanceCase, Precision, double, boolean, String, Supplier)}, the executable
     * {@link Executable#prepare() prepared} first where {@code prepareFirst}, as the pipeline prepares a network
     * ({@code firstRun}'s check then covers the preparation as well as the first run).
     */
    protected void checkTwoRuns(ConformanceCase c, Precision precision, double tolerance, boolean staged, String label,
                                Supplier<Runnable> firstRun, boolean prepareFirst) {
        TestRandom random = TestRandom.fresh();
        String how = precision + (staged ? "" : " unstaged");
        try (Problem p = c.build(random, staged)) {
            List<double[]> expected = new BackendOracle(cpu).evaluate(p.graph(), p.inputs());
            List<DeviceTensor> in = new ArrayList<>();
            List<DeviceTensor> out = PoisonedOutputs.allocate(tornado, p.graph().outputs());
            try (Executable exe = tornado.compile(p.graph(), precision)) {
                assertThat(exe.precision()).as(c.name()).isEqualTo(precision);
                for (Tensor t : p.inputs()) {
                    in.add(tornado.upload(t));
                }
                Runnable firstCheck = firstRun.get();
                if (prepareFirst) {
                    exe.prepare();
                }
                for (int run = 1; run <= 2; run++) {
                    if (run == 2) {
                        out.forEach(d -> PoisonedOutputs.poison(tornado, d));
                    }
                    exe.run(in, out);
                    if (run == 1) {
                        firstCheck.run();
                    }
                    try (Tensor actual = tornado.download(out.getFirst())) {
                        double err = Numerics.relativeL2(actual.toFloatArray(), expected.getFirst());
                        if (run == 1) {
                            System.out.printf(Locale.ROOT, "%s %s %-75s relL2 %.3e (tolerance %.0e)%n", label, how, c.name(), err, tolerance);
                        }
                        assertThat(err).as("%s %s, run %d: relative L2 error against backend-cpu; %s", how, c.name(), run, random)
                                .isLessThanOrEqualTo(tolerance);
                    }
                }
            } finally {
                in.forEach(DeviceTensor::close);
                out.forEach(DeviceTensor::close);
            }
        }
    }

    /** A first-run check for {@link #checkTwoRuns}: the run raised {@code dispatches} (a library provider's count). */
    protected static Supplier<Runnable> raises(LongSupplier dispatches, String what) {
        return () -> {
            long before = dispatches.getAsLong();
            return () -> assertThat(dispatches.getAsLong() - before).as("%s dispatched", what).isPositive();
        };
    }

    /** A first-run check for {@link #checkTwoRuns} that checks nothing (the case is there for its result only). */
    protected static Supplier<Runnable> anyRoute() {
        return () -> () -> { };
    }
}
