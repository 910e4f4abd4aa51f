package io.jdiffusion.cpu;

import io.jdiffusion.backend.DeviceTensor;
import io.jdiffusion.backend.Executable;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Padding;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.backend.testing.ConformanceCases;
import io.jdiffusion.backend.testing.PoisonedOutputs;
import io.jdiffusion.backend.testing.Problem;
import io.jdiffusion.backend.testing.ProblemBuilder;
import io.jdiffusion.backend.testing.ReferenceOps;
import io.jdiffusion.backend.testing.TestRandom;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Numerics;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What the CPU executable promises beyond operator results: independence from constants, clear errors, F32. */
class CpuExecutableTest {
    @Test
    void anExecutableKeepsWorkingAfterItsConstantTensorsAreClosed() {
        TestRandom random = TestRandom.fresh();
        List<Tensor> constants = new ArrayList<>();
        GraphBuilder g = new GraphBuilder("constants");
        Value ids = g.input("ids", Shape.of(2, 5), DType.I64);
        Value table = g.constant("table", keep(constants, random.normal(Shape.of(11, 8), 1).to(DType.F16)));
        Value x = g.embedding(ids, table);
        Value ln = g.layerNorm(x, g.constant("g", keep(constants, random.normal(Shape.of(8), 1, 0.1))),
                g.constant("b", keep(constants, random.normal(Shape.of(8), 0.1))), 1e-5f);
        Value lin = g.linear(ln, g.constant("w", keep(constants, random.normal(Shape.of(12, 8), 0.3))),
                g.constant("lb", keep(constants, random.normal(Shape.of(12), 0.1))), Activation.GELU, null);
        Value img = g.reshape(lin, 2, 3, 4, 5);
        Value conv = g.conv2d(img, g.constant("cw", keep(constants, random.normal(Shape.of(3, 3, 3, 3), 0.2).to(DType.BF16))),
                null, null, 1, Padding.same(1));
        Value out = g.add(conv, g.constant("c", keep(constants, random.normal(Shape.of(5), 1))));
        g.output(out);
        Graph graph = g.build();
        Tensor idTensor = random.ids(Shape.of(2, 5), 11, DType.I64);
        double[] expected = ReferenceOps.run(graph, List.of(idTensor)).getFirst();
        try (CpuBackend backend = new CpuBackend(2); Executable exe = backend.compile(graph)) {
            constants.forEach(Tensor::close);
            float[] actual = PoisonedOutputs.runFirstOutput(backend, exe, graph, List.of(idTensor));
            assertThat(Numerics.relativeL2(actual, expected)).as("%s", random).isLessThan(1e-5);
        }
        idTensor.close();
    }

    /**
     * GroupNorm+SiLU over 2x, then + x: the norm's input dies at the norm, so the plan writes the norm over it and the
     * arena holds one buffer, not two; the result is the reference's (two images of 4 groups: each task's run of
     * groups sums the next group as it normalises one). With the input read again after the norm, two buffers.
     */
    @Test
    void aGroupNormWritesOverAnInputThatDiesThere() {
        TestRandom random = TestRandom.fresh();
        ProblemBuilder b = new ProblemBuilder("group norm in place", random);
        long bytes = 2 * 8 * 16 * 16 * Float.BYTES;
        try (Problem p = b.build(ConformanceCases.groupNormOverIntermediate(b, 2, 8, 16, 16));
             CpuBackend backend = new CpuBackend(2); Executable exe = backend.compile(p.graph())) {
            assertThat(exe.arenaBytes()).isEqualTo(bytes);
            double[] expected = ReferenceOps.run(p.graph(), p.inputs()).getFirst();
            float[] actual = PoisonedOutputs.runFirstOutput(backend, exe, p.graph(), p.inputs());
            assertThat(Numerics.relativeL2(actual, expected)).as("%s", random).isLessThan(1e-5);
        }
        GraphBuilder g = new GraphBuilder("group norm beside its input");
        Value x = g.input("x", Shape.of(2, 8, 16, 16), DType.F32);
        Value doubled = g.add(x, x);
        Tensor gamma = Tensor.ofFloats(Shape.of(8), new float[8]);
        Value norm = g.groupNorm(doubled, g.constant("gamma", gamma), g.constant("beta", gamma), 4, 1e-5f, true);
        g.output(g.add(norm, doubled));
        try (CpuBackend backend = new CpuBackend(2); Executable exe = backend.compile(g.build())) {
            assertThat(exe.arenaBytes()).isEqualTo(2 * bytes);
        }
        gamma.close();
    }

    private static Tensor keep(List<Tensor> list, Tensor t) {
        list.add(t);
        return t;
    }

    @Test
    void runRefusesTensorsOfTheWrongShapeOrBackendWithOneClearMessage() {
        GraphBuilder g = new GraphBuilder("g");
        Value x = g.input("x", Shape.of(2, 3), DType.F32);
        g.output(g.unary(x, Activation.SILU));
        Graph graph = g.build();
        try (CpuBackend backend = new CpuBackend(1); Executable exe = backend.compile(graph, Precision.F16)) {
            assertThat(exe.precision()).isEqualTo(Precision.F32);
            DeviceTensor wrong = backend.allocate(Shape.of(3, 2), DType.F32);
            DeviceTensor out = backend.allocate(Shape.of(2, 3), DType.F32);
            assertThatThrownBy(() -> exe.run(List.of(wrong), List.of(out)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("g input 0 (x) must be [2, 3] f32, got [3, 2] f32");
            assertThatThrownBy(() -> exe.run(List.of(out), List.of(out)))
                    .hasMessageContaining("both an input and an output");
            wrong.close();
            out.close();
        }
    }
}
