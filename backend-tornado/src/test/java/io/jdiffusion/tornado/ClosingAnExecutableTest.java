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

/**
 * Closing one executable leaves the others on the device running. TornadoVM marks a device "reset" whenever a plan
 * on it is freed, and a plan that has finished its pre-compilation then refuses to launch ("reset() was called after
 * warmup()") until some plan pre-compiles again: a server that drops one image size's executable, or the one-task
 * plans each kernel is compiled in ({@link KernelSources}), would stop every prepared executable.
 */
class ClosingAnExecutableTest extends TornadoBesideCpu {
    private static final int ROWS = 8;
    private static final int WIDTH = 64;

    @Test
    void aPreparedExecutableRunsOnAfterAnotherIsClosed() {
        TestRandom random = TestRandom.fresh();
        List<Tensor> constants = new ArrayList<>();
        try {
            Graph kept = LinearChain.geluResidual("kept-executable", random, constants, 2, ROWS, WIDTH);
            Graph dropped = LinearChain.geluResidual("dropped-executable", random, constants, 3, ROWS, WIDTH);
            Value out = kept.outputs().getFirst();
            TornadoExecutable keptExe = compileCounted(kept, Precision.F32, 0);
            try (keptExe; DeviceTensor input = tornado.allocate(kept.inputs().getFirst().shape(), DType.F32);
                 DeviceTensor output = tornado.allocate(out.shape(), out.dtype())) {
                keptExe.prepare();
                runBesideCpu(keptExe, kept, input, output, random, 1e-4, "before the other executable");
                try (TornadoExecutable droppedExe = compileCounted(dropped, Precision.F32, 0);
                     DeviceTensor droppedOutput = tornado.allocate(dropped.outputs().getFirst().shape(), DType.F32)) {
                    droppedExe.prepare();
                    runBesideCpu(droppedExe, dropped, input, droppedOutput, random, 1e-4, "the other executable");
                }
                runBesideCpu(keptExe, kept, input, output, random, 1e-4, "after the other executable was closed");
            }
        } finally {
            constants.forEach(Tensor::close);
        }
    }
}
