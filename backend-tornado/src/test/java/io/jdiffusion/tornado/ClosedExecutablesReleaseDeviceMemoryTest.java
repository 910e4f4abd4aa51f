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
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Closing an executable hands all of its device buffers back to TornadoVM, those of every chained task graph. A
 * server compiles and closes executables for as long as it runs (one per image size and model), so a buffer kept
 * per closed executable would exhaust the device. Runs in a JVM of its own (backend-tornado's pom) with TornadoVM's
 * device budget ({@code tornado.device.memory}) at {@value #BUDGET_MIB} MiB: the chain below holds 16 MiB of weights,
 * so compiling, running and closing it {@value #ROUNDS} times fits only if each closed executable's buffers are
 * reused; kept, TornadoVM runs out of its budget in the fifth round. The products stay on the Java kernels on every
 * backend: on TornadoVM's CUDA backend cuBLASLt would add its workspace and staging buffers to each executable
 * (buffers of the same plan, freed by the same call), more than a budget sized for the Java kernels holds. (Until
 * the fix every graph's buffers but those of the graph selected last stayed allocated: a plan frees only its
 * selected graphs.)
 */
class ClosedExecutablesReleaseDeviceMemoryTest extends TornadoBesideCpu {
    static final int BUDGET_MIB = 80;
    private static final int ROUNDS = 12;
    private static final int LAYERS = 4;
    private static final int ROWS = 4;
    private static final int WIDTH = 1024;

    @Test
    void closedChainedExecutablesLeaveTheirBuffersForTheNext() {
        assumeTrue((BUDGET_MIB + "MB").equals(System.getProperty("tornado.device.memory")),
                "runs in the JVM of its own that backend-tornado's pom starts with TornadoVM's device budget at " + BUDGET_MIB + " MiB");
        TestRandom random = TestRandom.fresh();
        List<Tensor> constants = new ArrayList<>();
        try {
            Graph graph = LinearChain.geluResidual("released-device-memory", random, constants, LAYERS, ROWS, WIDTH);
            Value out = graph.outputs().getFirst();
            for (int round = 1; round <= ROUNDS; round++) {
                TornadoExecutable exe;
                try (TemporaryProperties ignored = TemporaryProperties.set(TornadoSettings.LIBRARIES, "false")) {
                    exe = compileCounted(graph, Precision.F32, 2);
                }
                try (exe; DeviceTensor input = tornado.allocate(graph.inputs().getFirst().shape(), DType.F32);
                     DeviceTensor output = tornado.allocate(out.shape(), out.dtype())) {
                    assertThat(exe.graphCount()).as("chained task graphs").isGreaterThan(2);
                    runBesideCpu(exe, graph, input, output, random, 1e-4, "round " + round);
                }
            }
        } finally {
            constants.forEach(Tensor::close);
        }
    }
}
