package io.jdiffusion.tornado;

import io.jdiffusion.backend.DeviceTensor;
import io.jdiffusion.backend.Executable;
import io.jdiffusion.backend.HostRunner;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.backend.testing.PoisonedOutputs;
import io.jdiffusion.backend.testing.TestRandom;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Numerics;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import org.junit.jupiter.api.BeforeAll;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A run of a chain of task graphs ends with a stream synchronisation where the plan replays as CUDA graphs (there
 * the copy of the outputs is a step of the last graph, launched asynchronously), also with {@code
 * -Dtornado.vmflush=false}, which drops TornadoVM's own synchronisation after each graph. This checks that the host
 * reads a run's outputs only once the whole chain has finished: a deep
 * graph split into many chained task graphs runs again and again on fresh inputs, its outputs poisoned with NaN
 * before each run (and by the run's own first task on the device), and every run's outputs must equal
 * backend-cpu's for that run's inputs. An unfinished read shows NaN or the previous run's values. The weights' host
 * arrays leave the resident set once the first execution has uploaded them ({@link DeviceArrays}; on PTX, which
 * locks host arrays, the tensor cores' F16 weights), and the runs after it compute the same.
 */
class StreamOrderTest extends TornadoBesideCpu {
    private static final int LAYERS = 24;
    private static final int RUNS = 4;

    /**
     * Rows and width of the layers: on a GPU each run must take long enough (about 50 GFLOP in F32) that a read
     * racing the device would see an unfinished result; PoCL (blocking reads, no CUDA graphs) builds and runs
     * the small form.
     */
    private int rows;
    private int width;

    @BeforeAll
    void chooseSizes() {
        boolean gpu = TornadoDevices.usesCudaGraphs(((TornadoBackend) tornado).device());
        rows = gpu ? 1024 : 192;
        width = gpu ? 1024 : 256;
    }

    /** TornadoVM read the options the backend set (or the command line's) before it started. */
    @Test
    void tornadoVmRunsWithTheBackendsOptions() throws ReflectiveOperationException {
        Class<?> options = Class.forName("uk.ac.manchester.tornado.runtime.common.TornadoOptions");
        String flush = System.getProperty("tornado.vmflush");
        assertThat(options.getField("USE_VM_FLUSH").getBoolean(null)).as("tornado.vmflush")
                .isEqualTo(flush == null || Boolean.parseBoolean(flush));
        assertThat(options.getField("MAX_EVENTS").getInt(null)).as("tornado.max.events")
                .isEqualTo(Integer.parseInt(System.getProperty("tornado.max.events")));
        assertThat(System.getProperty("tornado.max.events")).as("set unless given on the command line").isNotNull();
    }

    @Test
    void outputsOfAChainOfTaskGraphsAreReadAfterItFinishedF32() {
        check(Precision.F32, 1e-4, false);
    }

    /**
     * {@link TornadoExecutable#prepare()} JIT-compiles every graph of the chain ahead of the first run
     * (TornadoVM's pre-compilation), and the runs after it equal backend-cpu's as an unprepared chain's do.
     */
    @Test
    void aChainPreparedBeforeItsFirstRunComputesTheSame() {
        check(Precision.F32, 1e-4, true);
    }

    /** F16 where the device computes in F16 (cuBLAS on the CUDA backend, tensor cores on PTX); skipped on PoCL. */
    @Test
    void outputsOfAChainOfTaskGraphsAreReadAfterItFinishedF16() {
        assumeTrue(TornadoDevices.computesHalf(((TornadoBackend) tornado).device()), "no F16 on this TornadoVM device");
        check(Precision.F16, 1e-2, false);
    }

    private void check(Precision precision, double tolerance, boolean prepare) {
        TestRandom random = TestRandom.fresh();
        List<Tensor> constants = new ArrayList<>();
        Graph graph = LinearChain.geluResidual("stream-order", random, constants, LAYERS, rows, width);
        Executable exe;
        try (TemporaryProperties ignored = TemporaryProperties.set(TornadoSettings.TASKS_PER_GRAPH, "2")) {
            exe = tornado.compile(graph, precision);
        }
        Value out = graph.outputs().getFirst();
        try (exe; DeviceTensor input = tornado.allocate(graph.inputs().getFirst().shape(), DType.F32);
             DeviceTensor output = tornado.allocate(out.shape(), out.dtype())) {
            assertThat(((TornadoExecutable) exe).graphCount()).as("chained task graphs").isGreaterThanOrEqualTo(LAYERS / 2);
            if (prepare) {
                exe.prepare();
                exe.prepare(); // a second call does nothing
            }
            assertThat(((TornadoExecutable) exe).prepared()).isEqualTo(prepare);
            DeviceArrays deviceArrays = ((TornadoExecutable) exe).deviceArrays();
            TornadoDevice device = ((TornadoBackend) tornado).device();
            if (precision == Precision.F16 && TornadoDevices.pinsHostArrays(device) && TornadoDevices.supportsTensorCores(device)) {
                // where TornadoVM locks host arrays (PTX), the tensor cores' 48 MiB of weights go up through its
                // staging ring, so they too live in the mapped file
                assertThat(deviceArrays.path()).as("the tensor cores' weights mapped on a backend that locks host arrays").isNotNull();
            }
            assertThat(deviceArrays.released()).as("weights' host pages handed back by the first execution").isEqualTo(prepare);
            for (int run = 0; run < RUNS; run++) {
                try (Tensor x = random.normal(Shape.of(rows, width), 1); Tensor actual = Tensor.allocate(out.shape(), out.dtype())) {
                    tornado.upload(x, input);
                    PoisonedOutputs.poison(tornado, output);
                    exe.run(List.of(input), List.of(output));
                    assertThat(deviceArrays.released()).isTrue();
                    if (run == 0 && deviceArrays.path() != null) {
                        // every weight is on the device; later runs (checked below) must not need the host copy
                        assertThat(DeviceArraysTest.residentKib(deviceArrays)).as("resident kiB of the weights' host copy").isZero();
                    }
                    tornado.download(output, actual);
                    List<Tensor> expected = HostRunner.run(cpu, graph, List.of(x));
                    try (Tensor e = expected.getFirst()) {
                        double err = Numerics.relativeL2(actual, e);
                        System.out.printf(Locale.ROOT, "stream order %s run %d: relL2 %.3e%n", precision, run, err);
                        assertThat(err).as("%s run %d of a chain of %d task graphs; %s", precision, run,
                                ((TornadoExecutable) exe).graphCount(), random).isLessThanOrEqualTo(tolerance);
                    }
                }
            }
        } finally {
            constants.forEach(Tensor::close);
        }
    }
}
