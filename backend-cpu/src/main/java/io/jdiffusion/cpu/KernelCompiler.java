package io.jdiffusion.cpu;

import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Value;

/** Picks the kernel for each operator. */
final class KernelCompiler {
    private KernelCompiler() {
    }

    /**
     * Operators whose kernel may write its output over its first input, where the plan puts them there
     * ({@code BufferPlan}): GroupNorm's tasks each take whole groups, read a group for its statistics, then read
     * each element before writing it. In place, the VAE's full-resolution GroupNorm+SiLU writes lines already in
     * cache instead of fetching fresh ones first (docs/PERFORMANCE.md, "GroupNorm+SiLU in place, beside the next
     * group's statistics").
     */
    static boolean writesInPlace(Op op) {
        return op instanceof Op.GroupNorm;
    }

    static Kernel compile(Op op, CompileContext ctx) {
        // Operands read in place must be F32; weights that are repacked are widened while packing instead.
        for (Value v : op.inputs()) {
            boolean repacked = v.kind() == Value.Kind.CONSTANT
                    && (op instanceof Op.Linear l && l.weight() == v || op instanceof Op.Conv2d c && c.weight() == v);
            if (!repacked) {
                ctx.requireF32(v);
            }
        }
        return switch (op) {
            case Op.Conv2d c -> ConvKernels.compile(c, ctx);
            case Op.Linear l -> LinearKernel.compile(l, ctx);
            case Op.Attention a -> AttentionKernel.compile(a, ctx);
            case Op.GroupNorm g -> NormKernels.groupNorm(g, ctx);
            case Op.LayerNorm l -> NormKernels.layerNorm(l, ctx);
            case Op.Unary u -> PointwiseKernels.unary(u, ctx);
            case Op.Binary b -> PointwiseKernels.binary(b, ctx);
            case Op.Softmax s -> PointwiseKernels.softmax(s, ctx);
            case Op.Upsample2x u -> LayoutKernels.upsample2x(u, ctx);
            case Op.Concat c -> LayoutKernels.concat(c, ctx);
            case Op.Transpose t -> LayoutKernels.transpose(t, ctx);
            case Op.Embedding e -> LayoutKernels.embedding(e, ctx);
            case Op.TimestepEmbedding t -> LayoutKernels.timestepEmbedding(t, ctx);
            case Op.Reshape r -> buffers -> {
                // an alias: BufferPlan gave both values the same storage
            };
        };
    }
}
