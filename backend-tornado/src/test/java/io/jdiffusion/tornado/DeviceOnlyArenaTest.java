package io.jdiffusion.tornado;

import io.jdiffusion.backend.DeviceTensor;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.backend.testing.TestRandom;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The arena is device-only: TornadoVM allocates it without a copy from the host, its host side (a hole in the
 * scratch file) never becomes resident, and a task fills it with NaN at the start of every run. The network widens
 * 64 features to 4096 and back, so that its activations (the arena, 16 MiB and more) outweigh its weights and
 * input (about 3 MiB) several times over: the bytes prepare() copies to the device (TornadoVM's profiler) stay
 * within the weights, the input and 1 MiB, and the scratch file's resident pages within the weights' (mapped host
 * arrays only). Two runs after it match backend-cpu.
 */
class DeviceOnlyArenaTest extends TornadoBesideCpu {
    private static final int ROWS = 2048;
    private static final int NARROW = 64;
    private static final int WIDE = 4096;

    @Test
    void theArenaIsAllocatedOnTheDeviceOnlyAndPoisonedAtEveryRun() {
        TestRandom random = TestRandom.fresh();
        List<Tensor> constants = new ArrayList<>();
        Graph graph = widening(random, constants);
        long weightBytes = constants.stream().mapToLong(t -> t.shape().elementCount() * Float.BYTES).sum();
        long inputBytes = (long) ROWS * NARROW * Float.BYTES;
        TornadoExecutable exe = compileCounted(graph, Precision.F32, 0);
        Value out = graph.outputs().getFirst();
        try (exe; DeviceTensor input = tornado.allocate(graph.inputs().getFirst().shape(), DType.F32);
             DeviceTensor output = tornado.allocate(out.shape(), out.dtype())) {
            DeviceArrays arrays = exe.deviceArrays();
            assertThat(exe.arenaBytes()).as("arena bytes").isGreaterThanOrEqualTo((long) ROWS * WIDE * Float.BYTES);
            assertThat(arrays.poisoned()).as("poisoned device-only arrays").anySatisfy(a -> assertThat(
                    a.getNumBytesOfSegment()).isGreaterThanOrEqualTo(exe.arenaBytes()));
            if (arrays.mapped()) {
                assertThat(arrays.bytes()).as("scratch file bytes, the arena's hole included").isGreaterThanOrEqualTo(exe.arenaBytes());
                assertThat(DeviceArraysTest.residentKib(arrays) * 1024).as("resident bytes of the scratch file after compiling")
                        .isLessThanOrEqualTo(weightBytes + (1 << 20));
            }
            exe.prepare();
            assertThat(exe.lastCopyInBytes()).as("bytes copied to the device by prepare()")
                    .isGreaterThanOrEqualTo(weightBytes).isLessThanOrEqualTo(weightBytes + inputBytes + (1 << 20));
            for (int run = 1; run <= 2; run++) {
                runBesideCpu(exe, graph, input, output, random, 1e-4, "run " + run);
            }
        } finally {
            constants.forEach(Tensor::close);
        }
    }

    /** x [ROWS, NARROW] -> linear to WIDE + GELU -> linear back to NARROW + x. */
    private static Graph widening(TestRandom random, List<Tensor> constants) {
        GraphBuilder b = new GraphBuilder("device-only-arena");
        Value x = b.input("x", Shape.of(ROWS, NARROW), DType.F32);
        Tensor up = random.normal(Shape.of(WIDE, NARROW), 1 / Math.sqrt(NARROW));
        Tensor down = random.normal(Shape.of(NARROW, WIDE), 1 / Math.sqrt(WIDE));
        constants.add(up);
        constants.add(down);
        Value h = b.linear(x, b.constant("up", up), null, Activation.GELU, null);
        b.output(b.linear(h, b.constant("down", down), null, Activation.NONE, x));
        return b.build();
    }
}
