package io.jdiffusion.cpu;

import io.jdiffusion.backend.DeviceTensor;
import io.jdiffusion.backend.Executable;
import io.jdiffusion.backend.OperatorProfile;
import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Padding;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.backend.testing.TestRandom;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/** The per-operator profile behind {@code bench --profile}: every operator of a call lands in its kind, once. */
class OperatorProfileTest {
    @Test
    void profiledCallsGroupEveryOperatorByKindAndStopWhenAsked() {
        TestRandom random = TestRandom.fresh();
        GraphBuilder g = new GraphBuilder("profiled");
        Value x = g.input("x", Shape.of(2, 8, 6, 6), DType.F32);
        Value c1 = g.conv2d(x, g.constant("w1", random.normal(Shape.of(8, 8, 3, 3), 0.2)), null, null, 1, Padding.same(1));
        Value c2 = g.conv2d(c1, g.constant("w2", random.normal(Shape.of(8, 8, 3, 3), 0.2)), null, null, 1, Padding.same(1));
        Value down = g.conv2d(c2, g.constant("w3", random.normal(Shape.of(4, 8, 3, 3), 0.2)), null, null, 2, Padding.same(1));
        Value n = g.groupNorm(down, g.constant("g", random.normal(Shape.of(4), 1)), g.constant("b", random.normal(Shape.of(4), 1)),
                2, 1e-5f, true);
        Value tokens = g.reshape(n, 2, 4, 9);
        Value lin = g.linear(tokens, g.constant("lw", random.normal(Shape.of(5, 9), 0.3)), null, Activation.NONE, null);
        g.output(lin);
        Graph graph = g.build();
        try (CpuBackend backend = new CpuBackend(1); Executable exe = backend.compile(graph)) {
            Tensor input = random.normal(Shape.of(2, 8, 6, 6), 1);
            DeviceTensor in = backend.upload(input);
            DeviceTensor out = backend.allocate(lin.shape(), DType.F32);
            OperatorProfile profile = new OperatorProfile();
            assertThat(backend.profileOperators(profile)).isTrue();
            exe.run(List.of(in), List.of(out));
            exe.run(List.of(in), List.of(out));
            backend.profileOperators(null);
            List<OperatorProfile.Row> rows = profile.rows();
            exe.run(List.of(in), List.of(out)); // not recorded any more
            Map<String, Integer> operators = rows.stream().collect(Collectors.toMap(OperatorProfile.Row::kind, OperatorProfile.Row::operators));
            assertThat(operators).containsExactlyInAnyOrderEntriesOf(Map.of(
                    "conv3x3 6x6 8->8", 2, "conv3x3 3x3 8->4 stride 2", 1, "norm", 1, "layout", 1, "linear M=8 K=9 N=5", 1));
            assertThat(profile.rows()).isEqualTo(rows);
            assertThat(rows).allSatisfy(r -> assertThat(r.cpuMs()).isGreaterThanOrEqualTo(0).isFinite());
            assertThat(rows).extracting(OperatorProfile.Row::cpuMs).isSortedAccordingTo((a, b) -> Double.compare(b, a));
            input.close();
            in.close();
            out.close();
        }
    }
}
