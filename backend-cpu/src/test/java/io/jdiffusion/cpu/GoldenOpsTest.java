package io.jdiffusion.cpu;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.HostRunner;
import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Padding;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.backend.testing.ReferenceOps;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Numerics;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.core.safetensors.SafetensorsFile;
import io.jdiffusion.testdata.TinySd;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestInstance;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.BiFunction;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The single-operator goldens made by PyTorch ({@code golden/ops.safetensors}): the CPU backend and the
 * float64 reference must both match each within 1e-5 relative L2 (PyTorch's own fp32-vs-fp64 error is
 * at most 3e-7 on these cases).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class GoldenOpsTest {
    private static final double TOLERANCE = 1e-5;
    private SafetensorsFile golden;
    private Backend backend;

    @BeforeAll
    void open() {
        golden = TinySd.golden("ops.safetensors");
        backend = new CpuBackend(2);
    }

    @AfterAll
    void close() {
        backend.close();
        golden.close();
    }

    /** A recipe: builds the op on the case's tensors and returns (graph, inputs). */
    private record Built(Graph graph, List<Tensor> inputs) {
    }

    @TestFactory
    Stream<DynamicTest> everyGoldenOpCaseMatches() {
        List<String> names = TinySd.caseNames().stream().filter(n -> n.startsWith("op_")).toList();
        assertThat(names).hasSize(20);
        return names.stream().map(n -> DynamicTest.dynamicTest(n, () -> check(n)));
    }

    private Tensor tensor(String name, String role) {
        String key = TinySd.goldenCase(name).get("tensors").get(role).get("key").asText();
        return golden.tensor(key);
    }

    private void check(String name) {
        String op = name.substring(3);
        BiFunction<GraphBuilder, String, Value> recipe = recipe(op);
        GraphBuilder g = new GraphBuilder(name);
        List<Tensor> inputs = new ArrayList<>();
        Value out = recipe.apply(g, name);
        g.output(out);
        Graph graph = g.build();
        for (Value v : graph.inputs()) {
            inputs.add(input(name, v.name()));
        }
        Tensor expected = expected(name, op);
        Tensor actual = HostRunner.run(backend, graph, inputs).getFirst();
        if (op.startsWith("sdpa")) {
            actual = headsFirst(actual, headsOf(name));
        }
        double err = Numerics.relativeL2(actual, expected);
        double[] ref = ReferenceOps.run(graph, inputs).getFirst();
        float[] refF = new float[ref.length];
        for (int i = 0; i < ref.length; i++) {
            refF[i] = (float) ref[i];
        }
        Tensor refT = Tensor.ofFloats(graph.outputs().getFirst().shape(), refF);
        if (op.startsWith("sdpa")) {
            refT = headsFirst(refT, headsOf(name));
        }
        double refErr = Numerics.relativeL2(refT.toFloatArray(), expected.toFloatArray());
        System.out.printf(Locale.ROOT, "golden %-32s cpu relL2 %.3e   float64 reference relL2 %.3e%n", name, err, refErr);
        assertThat(err).as("%s: CPU backend against PyTorch", name).isLessThanOrEqualTo(TOLERANCE);
        assertThat(refErr).as("%s: float64 reference against PyTorch", name).isLessThanOrEqualTo(TOLERANCE);
    }

    private int headsOf(String name) {
        return TinySd.goldenCase(name).get("tensors").get("q").get("shape").get(1).asInt();
    }

    /** The tensor for graph input {@code role}; attention inputs go from [B, H, N, d] to packed [B, N, H*d]. */
    private Tensor input(String name, String role) {
        Tensor t = tensor(name, role);
        if (name.startsWith("op_sdpa")) {
            return tokensFirst(t);
        }
        return t;
    }

    private Tensor expected(String name, String op) {
        return tensor(name, "out");
    }

    private BiFunction<GraphBuilder, String, Value> recipe(String op) {
        return switch (op) {
            case "conv3x3_s1" -> (g, n) -> conv(g, n, 1, Padding.same(1));
            case "conv3x3_s2_p1" -> (g, n) -> conv(g, n, 2, Padding.same(1));
            case "conv3x3_s2_pad0101" -> (g, n) -> conv(g, n, 2, new Padding(0, 1, 0, 1));
            case "conv1x1" -> (g, n) -> conv(g, n, 1, Padding.same(0));
            case "group_norm32_silu_eps1e-5", "group_norm32_silu_eps1e-6" -> (g, n) -> g.groupNorm(in(g, n, "x"),
                    g.constant("w", tensor(n, "w")), g.constant("b", tensor(n, "b")), 32,
                    (float) TinySd.goldenCase(n).get("eps").asDouble(), true);
            case "layer_norm" -> (g, n) -> g.layerNorm(in(g, n, "x"), g.constant("w", tensor(n, "w")),
                    g.constant("b", tensor(n, "b")), 1e-5f);
            case "linear" -> (g, n) -> g.linear(in(g, n, "x"), g.constant("w", tensor(n, "w")), g.constant("b", tensor(n, "b")));
            case "geglu" -> (g, n) -> g.linear(in(g, n, "x"), g.constant("w", tensor(n, "w")), g.constant("b", tensor(n, "b")),
                    Activation.GEGLU, null);
            case "sdpa_self", "sdpa_cross", "sdpa_causal" -> (g, n) -> {
                Tensor q = tensor(n, "q");
                int heads = q.shape().size(1);
                int d = q.shape().size(3);
                Value qv = g.input("q", packed(q.shape()), DType.F32);
                Value kv = g.input("k", packed(tensor(n, "k").shape()), DType.F32);
                Value vv = g.input("v", packed(tensor(n, "v").shape()), DType.F32);
                return g.attention(qv, kv, vv, heads, (float) (1 / Math.sqrt(d)), op.equals("sdpa_causal"));
            };
            case "gelu_erf" -> (g, n) -> g.unary(in(g, n, "x"), Activation.GELU);
            case "gelu_tanh" -> (g, n) -> g.unary(in(g, n, "x"), Activation.GELU_TANH);
            case "quick_gelu" -> (g, n) -> g.unary(in(g, n, "x"), Activation.QUICK_GELU);
            case "silu" -> (g, n) -> g.unary(in(g, n, "x"), Activation.SILU);
            case "softmax" -> (g, n) -> g.softmax(in(g, n, "x"));
            case "upsample_nearest2x" -> (g, n) -> g.upsample2x(in(g, n, "x"));
            case "timestep_embedding_32", "timestep_embedding_320" -> (g, n) -> g.timestepEmbedding(in(g, n, "t"),
                    TinySd.goldenCase(n).get("dim").asInt(), true, 0f, 1f, 10000f);
            default -> throw new IllegalArgumentException("no recipe for golden op " + op);
        };
    }

    private Value in(GraphBuilder g, String name, String role) {
        Tensor t = tensor(name, role);
        return g.input(role, t.shape(), t.dtype());
    }

    private Value conv(GraphBuilder g, String name, int stride, Padding pad) {
        return g.conv2d(in(g, name, "x"), g.constant("w", tensor(name, "w")), g.constant("b", tensor(name, "b")), null, stride, pad);
    }

    private static Shape packed(Shape headsFirst) {
        return Shape.of(headsFirst.dim(0), headsFirst.dim(2), headsFirst.dim(1) * headsFirst.dim(3));
    }

    /** [B, H, N, d] to [B, N, H*d]. */
    private static Tensor tokensFirst(Tensor t) {
        int b = t.shape().size(0), h = t.shape().size(1), n = t.shape().size(2), d = t.shape().size(3);
        Tensor out = Tensor.allocate(packed(t.shape()), DType.F32);
        for (int bi = 0; bi < b; bi++) {
            for (int hi = 0; hi < h; hi++) {
                for (int i = 0; i < n; i++) {
                    for (int c = 0; c < d; c++) {
                        out.setFloat(((long) (bi * n + i) * h + hi) * d + c, t.getFloat(((long) (bi * h + hi) * n + i) * d + c));
                    }
                }
            }
        }
        return out;
    }

    /** [B, N, H*d] to [B, H, N, d]. */
    private static Tensor headsFirst(Tensor t, int h) {
        int b = t.shape().size(0), n = t.shape().size(1), d = t.shape().size(2) / h;
        Tensor out = Tensor.allocate(Shape.of(b, h, n, d), DType.F32);
        for (int bi = 0; bi < b; bi++) {
            for (int hi = 0; hi < h; hi++) {
                for (int i = 0; i < n; i++) {
                    for (int c = 0; c < d; c++) {
                        out.setFloat(((long) (bi * h + hi) * n + i) * d + c, t.getFloat(((long) (bi * n + i) * h + hi) * d + c));
                    }
                }
            }
        }
        return out;
    }
}
