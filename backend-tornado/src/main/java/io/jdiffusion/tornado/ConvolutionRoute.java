package io.jdiffusion.tornado;

import io.jdiffusion.backend.graph.BufferPlan;
import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Padding;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.Shape;
import io.jdiffusion.tornado.nvidia.ConvShape;

import java.util.HashSet;
import java.util.Set;
import java.util.function.Function;

/**
 * Whether a convolution of the library path runs on cuDNN ({@link #shape} non-null) or on the staged im2col +
 * cuBLAS path ({@link #fallback} says why), and which of its operands pass through the F16 scratch. cuDNN's legacy
 * API takes one data type for x, y and the residual, and symmetric padding. In an F16 executable an operand
 * outside the F16 arena (a graph input or output, or a constant, all F32) is copied to F16 into a scratch array
 * first ({@link #stageX}, {@link #stageResidual}) or written there by cuDNN and copied out after
 * ({@link #stageOut}). A bias must be a constant (converted to the executable's precision when compiled), and top
 * must equal bottom and left equal right.
 */
record ConvolutionRoute(ConvShape shape, String fallback, boolean stageX, boolean stageResidual, boolean stageOut, int arguments) {

    static ConvolutionRoute of(Op.Conv2d c, boolean half, Function<Value, BufferPlan.Binding> binding) {
        Padding p = c.padding();
        if (p.top() != p.bottom() || p.left() != p.right()) {
            return staged("asymmetric padding " + p);
        }
        if (c.bias() != null && binding.apply(c.bias()) != BufferPlan.Binding.CONSTANT) {
            return staged("its bias is computed, not a constant");
        }
        Shape xs = c.x().shape();
        Shape ws = c.weight().shape();
        Shape os = c.out().shape();
        if (xs.rank() != 4 || ws.rank() != 4 || os.rank() != 4 || ws.size(1) != xs.size(1)) {
            return staged("not a dense NCHW convolution (x " + xs + ", weight " + ws + ")");
        }
        ConvShape shape;
        try {
            shape = new ConvShape(xs.size(0), xs.size(1), xs.size(2), xs.size(3), ws.size(0), ws.size(2), ws.size(3), p.top(), p.left(),
                    c.stride(), 1, half);
        } catch (IllegalArgumentException e) {
            return staged(e.getMessage());
        }
        if (os.size(0) != shape.n() || os.size(1) != shape.k() || os.size(2) != shape.outH() || os.size(3) != shape.outW()) {
            return staged("its output " + os + " is not cuDNN's " + shape.n() + "x" + shape.k() + "x" + shape.outH() + "x" + shape.outW());
        }
        boolean stageX = outsideArena(c.x(), half, binding);
        boolean stageResidual = outsideArena(c.residual(), half, binding);
        boolean stageOut = outsideArena(c.out(), half, binding);
        return new ConvolutionRoute(shape, null, stageX, stageResidual, stageOut,
                arguments(c, binding, new boolean[]{stageX, stageResidual, stageOut}));
    }

    /** Whether {@code v}, present, is F32 storage in an F16 executable (anything but the F16 arena). */
    private static boolean outsideArena(Value v, boolean half, Function<Value, BufferPlan.Binding> binding) {
        return half && v != null && binding.apply(v) != BufferPlan.Binding.ARENA;
    }

    private static ConvolutionRoute staged(String why) {
        return new ConvolutionRoute(null, why, false, false, false, 0);
    }

    boolean onCudnn() {
        return shape != null;
    }

    /**
     * The library task's arguments, at most: the distinct arrays of x, residual and y (one per kind of storage; the
     * graph's float inputs counted one per value, since steady inputs have an array of their own; a staged operand
     * its scratch array), the filter, the bias and the workspace.
     */
    private static int arguments(Op.Conv2d c, Function<Value, BufferPlan.Binding> binding, boolean[] staged) {
        Set<String> arrays = new HashSet<>();
        Value[] operands = {c.x(), c.residual(), c.out()};
        for (int i = 0; i < operands.length; i++) {
            Value v = operands[i];
            if (v != null) {
                BufferPlan.Binding b = binding.apply(v);
                arrays.add(staged[i] ? "scratch " + i : b == BufferPlan.Binding.INPUT ? "input " + v.id() : b.name());
            }
        }
        return arrays.size() + 1 + (c.bias() == null ? 0 : 1) + 1;
    }

    /** The launches: a copy into the scratch per staged input, the library task, a copy out where y is staged. */
    TaskCost cost(TaskCost copyIn, TaskCost copyOut) {
        TaskCost cost = TaskCost.launch(arguments);
        if (stageX) {
            cost = cost.plus(copyIn);
        }
        if (stageResidual) {
            cost = cost.plus(copyIn);
        }
        return stageOut ? cost.plus(copyOut) : cost;
    }
}
