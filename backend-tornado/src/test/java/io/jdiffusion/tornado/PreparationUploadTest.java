package io.jdiffusion.tornado;

import io.jdiffusion.backend.DeviceTensor;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.backend.testing.TestRandom;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link TornadoExecutable#prepare()} moves the upload of the weights out of the first run, so that a stage timed
 * after preparation costs what its later runs cost. The bytes TornadoVM copies to the device are read from its
 * profiler for each execution of the plan: after prepare() the first run copies exactly what every later run copies
 * (the inputs), while prepare() copied the weights; an executable that was not prepared copies the weights in its
 * first run (the control that shows the count sees them). Each run is checked against backend-cpu.
 */
class PreparationUploadTest extends TornadoBesideCpu {
    private static final int LAYERS = 6;
    private static final int ROWS = 4;
    private static final int WIDTH = 256;


    @Test
    void aPreparedExecutableUploadsItsWeightsInPrepareAndNotInItsFirstRun() {
        long[] copies = copiesPerExecution(true);
        long weightBytes = (long) LAYERS * (WIDTH * WIDTH + WIDTH) * Float.BYTES;
        assertThat(copies[0]).as("bytes copied in prepare()").isGreaterThanOrEqualTo(weightBytes);
        assertThat(copies[1]).as("bytes copied in the first run after prepare()").isLessThan(weightBytes / 10)
                .isEqualTo(copies[2]);
    }

    @Test
    void anUnpreparedExecutableUploadsItsWeightsInItsFirstRun() {
        long[] copies = copiesPerExecution(false);
        long weightBytes = (long) LAYERS * (WIDTH * WIDTH + WIDTH) * Float.BYTES;
        assertThat(copies[1]).as("bytes copied in the first run").isGreaterThanOrEqualTo(weightBytes);
        assertThat(copies[2]).as("bytes copied in the second run").isLessThan(weightBytes / 10);
    }

    /** Bytes copied to the device by prepare() (0 when not asked), the first run and the second run. */
    private long[] copiesPerExecution(boolean prepare) {
        TestRandom random = TestRandom.fresh();
        List<Tensor> constants = new ArrayList<>();
        Graph graph = LinearChain.geluResidual("preparation-upload", random, constants, LAYERS, ROWS, WIDTH);
        TornadoExecutable exe = compileCounted(graph, Precision.F32, 3);
        Value out = graph.outputs().getFirst();
        long[] copies = new long[3];
        try (exe; DeviceTensor input = tornado.allocate(graph.inputs().getFirst().shape(), DType.F32);
             DeviceTensor output = tornado.allocate(out.shape(), out.dtype())) {
            assertThat(exe.graphCount()).as("chained task graphs").isGreaterThan(1);
            if (prepare) {
                exe.prepare();
                copies[0] = exe.lastCopyInBytes();
            }
            for (int run = 1; run <= 2; run++) {
                runBesideCpu(exe, graph, input, output, random, 1e-4, "run " + run);
                copies[run] = exe.lastCopyInBytes();
            }
        } finally {
            constants.forEach(Tensor::close);
        }
        System.out.printf("bytes copied to the device (prepared %s): prepare %d, first run %d, second run %d%n", prepare,
                copies[0], copies[1], copies[2]);
        return copies;
    }
}
