package io.jdiffusion.tornado;

import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.BufferPlan;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Padding;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.backend.testing.TestRandom;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.tornado.nvidia.ConvShape;
import io.jdiffusion.tornado.nvidia.CudnnConvolution;
import org.junit.jupiter.api.Test;
import uk.ac.manchester.tornado.api.types.arrays.TornadoNativeArray;

import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Host-side (no GPU): which convolutions of the library path run on cuDNN where they lie and which take the staged
 * fallback ({@link ConvolutionRoute}), the task cost of a cuDNN convolution, the workspace size, and the alignment
 * of the operand addresses the buffer layout plans for them.
 */
class CudnnConvRouteTest {
    /**
     * input -> conv_in (x is a graph input) -> silu -> conv (arena to arena, + residual from the arena) -> silu
     * -> conv_out (y is a graph output), and a downsampler with asymmetric padding on the side.
     */
    private static Graph network() {
        TestRandom random = TestRandom.fresh();
        GraphBuilder b = new GraphBuilder("cudnn-route");
        Value x = b.input("x", Shape.of(2, 4, 16, 16), DType.F32);
        Value inW = b.constant("in.w", random.normal(Shape.of(8, 4, 3, 3), 0.2));
        Value inB = b.constant("in.b", random.normal(Shape.of(8), 0.2));
        Value h = b.conv2d(x, inW, inB, null, 1, Padding.same(1));
        Value a = b.unary(h, Activation.SILU);
        Value midW = b.constant("mid.w", random.normal(Shape.of(8, 8, 3, 3), 0.2));
        Value mid = b.conv2d(a, midW, null, h, 1, Padding.same(1));
        Value m = b.unary(mid, Activation.SILU);
        Value downW = b.constant("down.w", random.normal(Shape.of(8, 8, 3, 3), 0.2));
        Value down = b.conv2d(m, downW, null, null, 2, new Padding(0, 1, 0, 1));
        Value outW = b.constant("out.w", random.normal(Shape.of(3, 8, 1, 1), 0.2));
        b.output(b.conv2d(m, outW, null, null, 1, Padding.same(0)));
        b.output(b.unary(down, Activation.SILU));
        return b.build();
    }

    private static List<Op.Conv2d> convs(Graph g) {
        return g.ops().stream().filter(op -> op instanceof Op.Conv2d).map(op -> (Op.Conv2d) op).toList();
    }

    private static BufferPlan plan(Graph g) {
        return BufferPlan.plan(g, BufferLayout.ALIGN * Float.BYTES);
    }

    @Test
    void inF16OperandsOutsideTheArenaPassThroughScratchAndAsymmetricPaddingIsStaged() {
        Graph g = network();
        BufferPlan plan = plan(g);
        List<Op.Conv2d> c = convs(g);
        ConvolutionRoute in = ConvolutionRoute.of(c.get(0), true, plan::binding);
        ConvolutionRoute mid = ConvolutionRoute.of(c.get(1), true, plan::binding);
        ConvolutionRoute down = ConvolutionRoute.of(c.get(2), true, plan::binding);
        ConvolutionRoute out = ConvolutionRoute.of(c.get(3), true, plan::binding);
        assertThat(in.onCudnn()).as(in.fallback()).isTrue();
        assertThat(List.of(in.stageX(), in.stageResidual(), in.stageOut())).as("x is an F32 graph input").containsExactly(true, false, false);
        assertThat(mid.onCudnn()).as("arena to arena, residual in the arena").isTrue();
        assertThat(List.of(mid.stageX(), mid.stageResidual(), mid.stageOut())).containsExactly(false, false, false);
        assertThat(mid.shape()).isEqualTo(new ConvShape(2, 8, 16, 16, 8, 3, 3, 1, 1, 1, 1, true));
        assertThat(down.onCudnn()).isFalse();
        assertThat(down.fallback()).contains("asymmetric padding");
        assertThat(out.onCudnn()).isTrue();
        assertThat(List.of(out.stageX(), out.stageResidual(), out.stageOut())).as("y is an F32 graph output").containsExactly(false, false, true);
    }

    @Test
    void inF32EveryConvolutionWithSymmetricPaddingRunsOnCudnn() {
        Graph g = network();
        BufferPlan plan = plan(g);
        List<Op.Conv2d> c = convs(g);
        ConvolutionRoute in = ConvolutionRoute.of(c.get(0), false, plan::binding);
        assertThat(in.onCudnn()).isTrue();
        assertThat(List.of(in.stageX(), in.stageResidual(), in.stageOut())).as("nothing staged in F32").containsExactly(false, false, false);
        assertThat(ConvolutionRoute.of(c.get(1), false, plan::binding).onCudnn()).isTrue();
        assertThat(ConvolutionRoute.of(c.get(2), false, plan::binding).onCudnn()).isFalse();
        ConvolutionRoute out = ConvolutionRoute.of(c.get(3), false, plan::binding);
        assertThat(out.shape()).isEqualTo(new ConvShape(2, 8, 16, 16, 3, 1, 1, 0, 0, 1, 1, false));
    }

    /**
     * The task's arguments, as its cost counts them: the distinct arrays of x, residual and y (a staged operand's
     * being its scratch array), then the filter, the bias and the workspace; and the copies into and out of the
     * scratch.
     */
    @Test
    void theTaskCostCountsTheDistinctArraysAndTheCopies() {
        Graph g = network();
        BufferPlan plan = plan(g);
        List<Op.Conv2d> c = convs(g);
        TaskCost in = TaskCost.of(io.jdiffusion.tornado.kernels.LibraryStaging.class, "rowsHalf");
        TaskCost out = TaskCost.of(io.jdiffusion.tornado.kernels.LibraryStaging.class, "headsFromHalf");
        // F32 conv_in: x (inputs), y (arena), filter, bias, workspace
        assertThat(ConvolutionRoute.of(c.get(0), false, plan::binding).cost(in, out)).isEqualTo(TaskCost.launch(5));
        // F16 conv_in: x (scratch), y (arena), filter, bias, workspace, and the copy in
        assertThat(ConvolutionRoute.of(c.get(0), true, plan::binding).cost(in, out)).isEqualTo(TaskCost.launch(5).plus(in));
        // mid: x, residual, y in the arena; filter; workspace
        assertThat(ConvolutionRoute.of(c.get(1), true, plan::binding).cost(in, out)).isEqualTo(TaskCost.launch(3));
        // F32 conv_out: x (arena), y (outputs), filter, workspace
        assertThat(ConvolutionRoute.of(c.get(3), false, plan::binding).cost(in, out)).isEqualTo(TaskCost.launch(4));
        // F16 conv_out: x (arena), y (scratch), filter, workspace, and the copy out
        assertThat(ConvolutionRoute.of(c.get(3), true, plan::binding).cost(in, out)).isEqualTo(TaskCost.launch(4).plus(out));
        assertThat(TaskCost.launch(3).bytes()).isEqualTo(15 + 5 * 3);
    }

    @Test
    void theWorkspaceHoldsTheTransposedOperandsAndTheFilter() {
        // filter 4x4x3x3 F16 = 288 bytes
        assertThat(LibraryProducts.workspaceFor(new ConvShape(1, 4, 8, 8, 4, 3, 3, 1, 1, 1, 1, true))).isEqualTo((4L << 20) + 288);
        // x 2x320x64x64 F16 = 5 MiB: 20 MiB, and the filter 320x320x3x3 F16
        assertThat(LibraryProducts.workspaceFor(new ConvShape(2, 320, 64, 64, 320, 3, 3, 1, 1, 1, 1, true)))
                .isEqualTo((20L << 20) + 320 * 320 * 9 * 2);
        // y 1x128x512x512 F16 = 64 MiB: 256 MiB
        assertThat(LibraryProducts.workspaceFor(new ConvShape(1, 128, 512, 512, 128, 3, 3, 1, 1, 1, 1, true)))
                .isEqualTo((256L << 20) + 128 * 128 * 9 * 2);
        // x and y 2x128x512x512 F16 = 128 MiB each: both together
        assertThat(LibraryProducts.workspaceFor(new ConvShape(2, 128, 512, 512, 128, 3, 3, 1, 1, 1, 1, true)))
                .isEqualTo((256L << 20) + 128 * 128 * 9 * 2);
        // the VAE's 512-channel layers at 1024x1024: x and y 256 MiB each, 512 MiB for both
        assertThat(LibraryProducts.workspaceFor(new ConvShape(1, 128, 1024, 1024, 128, 3, 3, 1, 1, 1, 1, true)))
                .isEqualTo((512L << 20) + 128 * 128 * 9 * 2);
        // at 2048x2048 x and y would take 2 GiB: capped at 1 GiB
        assertThat(LibraryProducts.workspaceFor(new ConvShape(1, 128, 2048, 2048, 128, 3, 3, 1, 1, 1, 1, true)))
                .isEqualTo((1L << 30) + 128 * 128 * 9 * 2);
        // SD 1.5's up-block 3x3 from 2560 to 1280 channels at 8x8: 4 MiB for the tensors, 56.25 MiB for the filter
        assertThat(LibraryProducts.workspaceFor(new ConvShape(2, 2560, 8, 8, 1280, 3, 3, 1, 1, 1, 1, true)))
                .isEqualTo((4L << 20) + 1280L * 2560 * 9 * 2);
    }

    /**
     * Every operand of every convolution that goes to cuDNN, at the element offset the buffer layout plans for it, on
     * a 256-byte aligned TornadoVM buffer (its array header, then the elements): where the arena holds them, aligned to the operand alignment
     * asked for (256 bytes, cudaMalloc's, as cuDNN's own measurements had them), and at least 16-byte aligned with
     * none asked for (0), in F16 and F32.
     */
    @Test
    void plannedOperandAddressesHaveTheOperandAlignment() {
        Graph g = network();
        for (int operandAlignment : new int[]{0, 256}) {
            BufferPlan plan = BufferPlan.plan(g, BufferLayout.planAlignment(operandAlignment));
            for (boolean half : new boolean[]{true, false}) {
                DeviceArrays arrays = new DeviceArrays();
                BufferLayout layout = new BufferLayout(g, plan, half, operandAlignment, Set.of(),
                        new WinogradConvolution(g, plan, false, BufferLayout::align, arrays), op -> OperatorPath.NO_DESCRIPTOR, arrays);
                int onCudnn = 0;
                int arenaOperands = 0;
                for (Op.Conv2d c : convs(g)) {
                    ConvolutionRoute route = ConvolutionRoute.of(c, half, plan::binding);
                    if (!route.onCudnn()) {
                        continue;
                    }
                    onCudnn++;
                    Value[] operands = {c.x(), c.residual(), c.out()};
                    boolean[] staged = {route.stageX(), route.stageResidual(), route.stageOut()};
                    for (int i = 0; i < operands.length; i++) {
                        Value v = operands[i];
                        if (v == null || staged[i]) {
                            continue; // a scratch array starts at element 0
                        }
                        Slot s = layout.slot(v);
                        long base = 256L * 1000 + TornadoNativeArray.ARRAY_HEADER;
                        long address = new CudnnConvolution.Operand(0, s.offset()).address(base, route.shape().elementBytes());
                        // the arena's values have the operand alignment; the inputs' and outputs' arrays 16 bytes
                        int expected = plan.binding(v) == BufferPlan.Binding.ARENA ? Math.max(16, operandAlignment) : 16;
                        assertThat(CudnnConvolution.alignment(address)).as("%s of %s (%s), element offset %d, operand alignment %d", v,
                                c.out(), half ? "F16" : "F32", s.offset(), operandAlignment).isGreaterThanOrEqualTo(expected);
                        arenaOperands += plan.binding(v) == BufferPlan.Binding.ARENA ? 1 : 0;
                    }
                }
                assertThat(onCudnn).isPositive();
                assertThat(arenaOperands).isPositive();
            }
        }
    }

    @Test
    void theArenaShiftPutsTheFirstElementOnTheBoundary() {
        for (int bytes : new int[]{16, 32, 256, 4096}) {
            for (int element : new int[]{2, 4}) {
                for (long header : new long[]{16, 24}) {
                    int shift = BufferLayout.arenaShift(bytes, element, header);
                    assertThat((header + (long) shift * element) % bytes).as("%d-byte alignment, %d-byte elements, %d-byte header", bytes,
                            element, header).isZero();
                    assertThat((long) shift * element).isLessThan(bytes);
                }
            }
        }
        assertThat(BufferLayout.arenaShift(0, 2, 16)).as("no operand alignment asked for").isZero();
        assertThat(BufferLayout.arenaShift(256, 4, 18)).as("a header of no whole elements").isZero();
    }
}
