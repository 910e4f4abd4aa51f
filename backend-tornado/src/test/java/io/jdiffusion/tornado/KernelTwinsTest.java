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
import io.jdiffusion.tornado.kernels.PointwiseKernels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Each distinct kernel is compiled from Java once ({@link KernelTwins}): in a chain of layers of one shape, every task
 * runs its kernel's source, each kernel compiled in a plan of its own, in parallel, and once per JVM; the chain
 * computes what backend-cpu computes and, bit for bit, what the same chain with every task compiled on its own
 * computes, whether prepared before its first run or compiled by it, and whether its kernels were compiled for it or
 * for an executable before it.
 */
class KernelTwinsTest extends TornadoBesideCpu {
    private static final int LAYERS = 12;
    private static final int ROWS = 64;
    private static final int WIDTH = 128;

    @ParameterizedTest(name = "prepared first: {0}")
    @ValueSource(booleans = {true, false})
    void twinsRunTheirKernelsSourceAndComputeWhatTheirOwnCompilationWould(boolean prepare) {
        TornadoDevice device = ((TornadoBackend) tornado).device();
        assumeTrue(TornadoDevices.writesKernelSources(device), "every task compiled on its own on this backend");
        TestRandom random = TestRandom.fresh();
        List<Tensor> constants = new ArrayList<>();
        Graph graph = LinearChain.geluResidual("kernel-twins", random, constants, LAYERS, ROWS, WIDTH);
        KernelSources.forget(device); // the first executable compiles its kernels, the second reuses them
        try (Tensor x = random.normal(Shape.of(ROWS, WIDTH), 1)) {
            Tensor compiled = run(graph, x, true, prepare, true);
            Tensor reused = run(graph, x, true, prepare, false);
            Tensor own = run(graph, x, false, prepare, false);
            List<Tensor> expected = HostRunner.run(cpu, graph, List.of(x));
            try (compiled; reused; own; Tensor e = expected.getFirst()) {
                assertThat(Numerics.relativeL2(compiled, e)).as("against backend-cpu; %s", random).isLessThanOrEqualTo(1e-4);
                assertThat(compiled.toFloatArray()).as("twins against every task compiled on its own").containsExactly(own.toFloatArray());
                assertThat(reused.toFloatArray()).as("kernels compiled for an earlier executable").containsExactly(own.toFloatArray());
            }
        } finally {
            constants.forEach(Tensor::close);
        }
    }

    /**
     * What Graal specialises a task on tells twins apart: a different scalar argument, or an array passed twice, makes
     * a kernel of its own; another array in the same place does not.
     */
    @Test
    void scalarsAndRepeatedArraysMakeKernelsOfTheirOwn() {
        TornadoDevice device = ((TornadoBackend) tornado).device();
        assumeTrue(TornadoDevices.writesKernelSources(device), "every task compiled on its own on this backend");
        try (KernelTwins twins = new KernelTwins(device, true)) {
            TaskGraph g = twins.newGraph("kernel_twins_keys");
            KernelContext ctx = new KernelContext();
            FloatArray src = new FloatArray(64);
            FloatArray a = new FloatArray(64);
            FloatArray b = new FloatArray(64);
            g.task("t0", PointwiseKernels::fill, ctx, src, 0, a, 16);
            g.task("t1", PointwiseKernels::fill, ctx, src, 0, b, 16); // a twin of t0
            g.task("t2", PointwiseKernels::fill, ctx, src, 0, a, 32); // another n
            g.task("t3", PointwiseKernels::fill, ctx, src, 0, src, 16); // the source array passed twice
            g.task("t4", PointwiseKernels::fill, ctx, src, 1, a, 16); // another index
            assertThat(twins.kernelCount()).isEqualTo(4);
            assertThat(twins.twinTaskCount()).isEqualTo(5);
        }
    }

    @Test
    void offCompilesEveryTaskFromJava() {
        TestRandom random = TestRandom.fresh();
        List<Tensor> constants = new ArrayList<>();
        Graph graph = LinearChain.geluResidual("kernel-twins-off", random, constants, 3, ROWS, WIDTH);
        try (TemporaryProperties ignored = TemporaryProperties.set(TornadoSettings.KERNEL_TWINS, "false");
             Executable exe = tornado.compile(graph, Precision.F32)) {
            KernelTwins twins = ((TornadoExecutable) exe).twins();
            assertThat(twins.kernelCount()).isZero();
            assertThat(twins.twinTaskCount()).isZero();
        } finally {
            constants.forEach(Tensor::close);
        }
    }

    private Tensor run(Graph graph, Tensor x, boolean twinsOn, boolean prepare, boolean compilesItsKernels) {
        Executable exe;
        // the products on the Java kernels too, so that every launch is a Java task (beside the NVIDIA libraries the
        // chain's products would be library tasks)
        try (TemporaryProperties ignored = TemporaryProperties.set(TornadoSettings.KERNEL_TWINS, Boolean.toString(twinsOn),
                TornadoSettings.TASKS_PER_GRAPH, "4", TornadoSettings.COMPILE_THREADS, "3", TornadoSettings.LIBRARIES, "false")) {
            exe = tornado.compile(graph, Precision.F32);
        }
        Value out = graph.outputs().getFirst();
        try (exe; DeviceTensor input = tornado.allocate(x.shape(), DType.F32); DeviceTensor output = tornado.allocate(out.shape(), out.dtype())) {
            TornadoExecutable tornadoExe = (TornadoExecutable) exe;
            KernelTwins twins = tornadoExe.twins();
            if (twinsOn) {
                // the chain repeats one layer's kernels
                assertThat(twins.kernelCount()).as("distinct kernels").isGreaterThan(1).isLessThan(tornadoExe.taskCount() / 3);
                assertThat(twins.twinTaskCount()).as("every launch runs its kernel's source").isEqualTo(tornadoExe.taskCount());
                assertThat(twins.compiledFromJavaCount()).as("kernels compiled from Java")
                        .isEqualTo(compilesItsKernels ? twins.kernelCount() : 0);
            } else {
                assertThat(twins.twinTaskCount()).isZero();
            }
            if (prepare) {
                exe.prepare();
            }
            tornado.upload(x, input);
            PoisonedOutputs.poison(tornado, output);
            exe.run(List.of(input), List.of(output));
            Tensor actual = Tensor.allocate(out.shape(), out.dtype());
            tornado.download(output, actual);
            return actual;
        }
    }
}
