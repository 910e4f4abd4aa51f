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
import io.jdiffusion.tornado.nvidia.LtMatmul;
import org.junit.jupiter.api.Test;

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
}
