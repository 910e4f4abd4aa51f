package io.jdiffusion.tornado;

import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.BufferPlan;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.backend.testing.TestRandom;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.tornado.LinearRoute.Operand;
import io.jdiffusion.tornado.kernels.LibraryStaging;
import io.jdiffusion.tornado.nvidia.LtMatmul;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Host-side: how a Linear is routed onto cuBLASLt from where its operands live ({@link LinearRoute}), and the
 * alignment of the operand addresses the buffer layout plans for it (no TornadoVM runtime, no GPU).
 */
class LinearRouteTest {
    /** TornadoVM's device buffers are 256-byte aligned and an array's data starts past its 16-byte header. */
    private static final long BASE = 256L * 4096 + 16;

    @Test
    void aPlainProductInTheArenaIsOneLibraryCallWithBiasAndResidual() {
        LinearRoute r = LinearRoute.choose(true, true, false, Operand.CONSTANT, Operand.MATCHING);
        assertThat(r).isEqualTo(new LinearRoute(false, true, false));
        assertThat(r.residualInGemm(true)).isTrue();
        assertThat(LinearRoute.choose(true, true, false, Operand.NONE, Operand.NONE)).isEqualTo(new LinearRoute(false, false, false));
        assertThat(LinearRoute.choose(true, true, false, Operand.MATCHING, Operand.NONE)).isEqualTo(new LinearRoute(false, true, false));
    }

    @Test
    void activationsGoThroughTheScratchAndTheEpilogueKernelWithTheResidualThere() {
        for (Activation act : new Activation[]{Activation.GELU, Activation.GEGLU, Activation.SILU}) {
            LinearRoute r = LinearRoute.choose(true, true, act != Activation.NONE, Operand.CONSTANT, Operand.MATCHING);
            assertThat(r).as(act.toString()).isEqualTo(new LinearRoute(false, true, true));
            assertThat(r.residualInGemm(true)).as("the residual is added after the activation, by the kernel").isFalse();
        }
    }

    @Test
    void operandsStoredInAnotherTypeTakeTheSimplestDetour() {
        assertThat(LinearRoute.choose(false, true, false, Operand.CONSTANT, Operand.NONE)).as("F32 input in F16: staged")
                .isEqualTo(new LinearRoute(true, true, false));
        assertThat(LinearRoute.choose(true, false, false, Operand.CONSTANT, Operand.NONE)).as("F32 output in F16: through the scratch")
                .isEqualTo(new LinearRoute(false, true, true));
        assertThat(LinearRoute.choose(true, true, false, Operand.CONSTANT, Operand.OTHER)).as("F32 residual in F16")
                .isEqualTo(new LinearRoute(false, true, true));
        assertThat(LinearRoute.choose(true, true, false, Operand.OTHER, Operand.NONE)).as("F32 bias input in F16: added by the kernel")
                .isEqualTo(new LinearRoute(false, false, true));
    }

    @Test
    void aConstantBiasStartsOnA256ByteBoundaryAfterTheWeight() {
        for (long elements : new long[]{1, 127, 128, 129, 320 * 768, 37 * 45}) {
            long at = LibraryProducts.biasOffset(elements);
            assertThat(at).as("%d weight elements", elements).isGreaterThanOrEqualTo(elements).isLessThan(elements + 128);
            assertThat(at * 2 % 256).as("F16 bytes").isZero();
            assertThat(at * 4 % 256).as("F32 bytes").isZero();
            assertThat(LtMatmul.alignment(BASE + at * 2)).isGreaterThanOrEqualTo(16);
        }
    }

    /**
     * Every Linear operand in the arena of a recorded chain of odd-sized layers (x, output, residual) sits at an
     * element offset that gives a 16-byte aligned F16 and F32 address on a 256-byte aligned buffer.
     */
    @Test
    void arenaOperandsOfLinearsAre16ByteAligned() {
        TestRandom random = TestRandom.fresh();
        GraphBuilder b = new GraphBuilder("odd linears");
        Value x = b.unary(b.input("x", Shape.of(3, 7, 37), DType.F32), Activation.SILU);
        int width = 37;
        for (int n : new int[]{45, 19, 45, 33, 33}) {
            Value w = b.constant("w" + n + "_" + width, random.normal(Shape.of(n, width), 0.1));
            x = b.linear(x, w, null, Activation.NONE, n == width ? x : null);
            x = b.unary(x, Activation.SILU);
            width = n;
        }
        b.output(x);
        Graph graph = b.build();
        BufferPlan plan = BufferPlan.plan(graph, BufferLayout.ALIGN * Float.BYTES);
        int checked = 0;
        for (Op op : graph.ops()) {
            if (op instanceof Op.Linear l) {
                for (Value v : new Value[]{l.x(), l.out(), l.residual()}) {
                    if (v != null && plan.binding(v) == BufferPlan.Binding.ARENA) {
                        long element = plan.arenaOffset(v) / Float.BYTES;
                        assertThat(LtMatmul.alignment(BASE + element * 2)).as("F16 %s at element %d", v, element).isGreaterThanOrEqualTo(16);
                        assertThat(LtMatmul.alignment(BASE + element * 4)).as("F32 %s at element %d", v, element).isGreaterThanOrEqualTo(16);
                        checked++;
                    }
                }
            }
        }
        assertThat(checked).as("arena operands checked").isGreaterThanOrEqualTo(10);
    }

    /**
     * The routes and task costs {@link LibraryProducts} plans for the Linears of one graph: on the graph input, in the
     * arena with bias and residual, GEGLU, and into the graph output; in F16 (where F32 storage takes detours) and F32
     * (where nothing does). The cuBLASLt task costs 15 bytes plus 5 per distinct array (TornadoVM's task record).
     */
    @Test
    void libraryProductsRouteEachLinearByItsOperandsStorage() {
        TestRandom random = TestRandom.fresh();
        GraphBuilder b = new GraphBuilder("routes");
        Value in = b.input("x", Shape.of(2, 5, 33), DType.F32);
        Value onInput = b.linear(in, b.constant("w0", random.normal(Shape.of(33, 33), 0.1)), b.constant("b0", random.normal(Shape.of(33), 0.1)),
                Activation.NONE, null);
        Value h = b.unary(onInput, Activation.SILU);
        Value plain = b.linear(h, b.constant("w1", random.normal(Shape.of(33, 33), 0.1)), b.constant("b1", random.normal(Shape.of(33), 0.1)),
                Activation.NONE, h);
        Value geglu = b.linear(b.unary(plain, Activation.SILU), b.constant("w2", random.normal(Shape.of(48, 33), 0.1)), null,
                Activation.GEGLU, null);
        Value last = b.linear(b.unary(geglu, Activation.SILU), b.constant("w3", random.normal(Shape.of(7, 24), 0.1)), null, Activation.NONE, null);
        b.output(last);
        Graph graph = b.build();
        List<Op.Linear> linears = graph.ops().stream().filter(op -> op instanceof Op.Linear).map(op -> (Op.Linear) op).toList();
        TaskCost stage = TaskCost.of(LibraryStaging.class, "rowsHalf");

        LibraryProducts f16 = products(graph, true, linears);
        assertThat(f16.route(linears.get(0))).as("F16: an F32 graph input is staged").isEqualTo(new LinearRoute(true, true, false));
        // workspace, weight (+bias), staged x, the arena as D
        assertThat(f16.linearCost(linears.get(0))).isEqualTo(stage.plus(TaskCost.launch(4)));
        assertThat(f16.route(linears.get(1))).as("F16: arena in, arena out, residual as C").isEqualTo(new LinearRoute(false, true, false));
        assertThat(f16.linearCost(linears.get(1))).as("x, output and residual share the arena").isEqualTo(TaskCost.launch(3));
        assertThat(f16.route(linears.get(2))).as("F16: GEGLU").isEqualTo(new LinearRoute(false, false, true));
        assertThat(f16.linearCost(linears.get(2))).isEqualTo(TaskCost.launch(4).plus(TaskCost.of(LibraryStaging.class, "linearEpilogueHalf")));
        assertThat(f16.route(linears.get(3))).as("F16: an F32 graph output").isEqualTo(new LinearRoute(false, false, true));

        LibraryProducts f32 = products(graph, false, linears);
        assertThat(f32.route(linears.get(0))).as("F32: the graph input in place").isEqualTo(new LinearRoute(false, true, false));
        assertThat(f32.linearCost(linears.get(0))).as("workspace, weight, inputs, arena").isEqualTo(TaskCost.launch(4));
        assertThat(f32.route(linears.get(3))).as("F32: the graph output in place").isEqualTo(new LinearRoute(false, false, false));
        assertThat(f32.route(linears.get(2))).as("F32: GEGLU").isEqualTo(new LinearRoute(false, false, true));
        assertThat(f32.linearCost(linears.get(2))).isEqualTo(TaskCost.launch(4).plus(TaskCost.of(LibraryStaging.class, "linearEpilogue")));
    }

    private static LibraryProducts products(Graph graph, boolean half, List<Op.Linear> linears) {
        BufferPlan plan = BufferPlan.plan(graph, BufferLayout.ALIGN * Float.BYTES);
        LibraryProducts products = new LibraryProducts(half, graph, plan, v -> graph.values().get(plan.storageRoot(v)).constant(),
                new DeviceArrays());
        for (Op.Linear l : linears) {
            assertThat(products.takeProduct(l, l.weight().shape(), graph.values().get(plan.storageRoot(l.weight())).constant())).isTrue();
        }
        products.allocate();
        return products;
    }
}
