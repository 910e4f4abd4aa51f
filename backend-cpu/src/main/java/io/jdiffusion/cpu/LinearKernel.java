package io.jdiffusion.cpu;

import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Tensor;

import java.lang.foreign.MemorySegment;

/**
 * y = act(x W^T + b) + residual as one GEMM: x is packed at run time block by block inside the GEMM's
 * tasks, W^T is packed once at compile time
 * (F16/BF16 widened), and bias, activation (GEGLU included) and residual are fused into the store.
 */
final class LinearKernel {
    private LinearKernel() {
    }

    static Kernel compile(Op.Linear op, CompileContext ctx) {
        int k = op.x().shape().size(-1);
        int n = op.weight().shape().size(0);
        long rows = op.x().shape().elementCount() / k;
        int m = Math.toIntExact(rows);
        boolean geglu = op.activation() == Activation.GEGLU;
        int outCols = geglu ? n / 2 : n;
        int panels = Packing.panelsForWeights(n, geglu);
        PackedWeights fixedWeights = op.weight().kind() != Value.Kind.CONSTANT ? null
                : ctx.weights(op.weight(), WeightForm.Kind.LINEAR_B, n, k, geglu, Packing.sizeB(n, k, geglu),
                        dst -> Packing.packBFromWeights(op.weight().constant(), n, k, geglu, dst));
        int x = op.x().id(), w = op.weight().id(), out = op.out().id();
        int bias = op.bias() == null ? -1 : op.bias().id();
        int biasLength = op.bias() == null ? 0 : op.bias().shape().size(0);
        float[] fixedBias = ctx.constantFloats(op.bias());
        int residual = op.residual() == null ? -1 : op.residual().id();
        Activation act = op.activation();
        WorkerPool pool = ctx.pool;
        return buffers -> {
            MemorySegment xs = buffers[x];
            PackedWeights b = fixedWeights != null ? fixedWeights
                    : Packing.packBFromWeights(Tensor.view(buffers[w], op.weight().shape(), DType.F32), n, k, geglu,
                    PackedWeights.ofArray(new float[Math.toIntExact(Packing.sizeB(n, k, geglu))]));
            float[] biasArr = bias < 0 ? null : fixedBias != null ? fixedBias
                    : GemmOutput.padColumnBias(Packing.toArray(buffers[bias], biasLength));
            MemorySegment resSeg = residual < 0 ? null : buffers[residual];
            GemmOutput target = new GemmOutput(buffers[out], 0, outCols, biasArr, false, n / 2, act, resSeg);
            Gemm.multiply((first, end, dst) -> Packing.packAPanels(xs, 0, k, m, k, first, end, dst), m, b, panels,
                    outCols, k, target, pool);
        };
    }
}
