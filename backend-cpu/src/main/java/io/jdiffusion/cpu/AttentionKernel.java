package io.jdiffusion.cpu;

import io.jdiffusion.backend.graph.Op;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static io.jdiffusion.cpu.CpuVectors.F;
import static io.jdiffusion.cpu.CpuVectors.L;
import static io.jdiffusion.cpu.CpuVectors.ORDER;

/** softmax(q k^T * scale) v per head, one query row at a time with a row of scores (O(Nk) scratch). */
final class AttentionKernel {
    private AttentionKernel() {
    }

    static Kernel compile(Op.Attention op, CompileContext ctx) {
        int batch = op.q().shape().size(0);
        int nq = op.q().shape().size(1);
        int nk = op.k().shape().size(1);
        int heads = op.heads();
        int d = op.q().shape().size(2) / heads;
        int dv = op.v().shape().size(2) / heads;
        float scale = op.scale();
        boolean causal = op.causal();
        int q = op.q().id(), k = op.k().id(), v = op.v().id(), out = op.out().id();
        WorkerPool pool = ctx.pool;
        int rowBlock = 16;
        int blocks = (nq + rowBlock - 1) / rowBlock;
        return buffers -> {
            MemorySegment qs = buffers[q], ks = buffers[k], vs = buffers[v], os = buffers[out];
            pool.forEach(batch * heads * blocks, task -> {
                int blk = task % blocks;
                int h = (task / blocks) % heads;
                int b = task / blocks / heads;
                float[] scores = new float[nk];
                float[] acc = new float[dv];
                for (int i = blk * rowBlock; i < Math.min(nq, blk * rowBlock + rowBlock); i++) {
                    long qBase = ((long) b * nq + i) * heads * d + (long) h * d;
                    int keys = causal ? i + 1 : nk;
                    float max = Float.NEGATIVE_INFINITY;
                    for (int j = 0; j < keys; j++) {
                        long kBase = ((long) b * nk + j) * heads * d + (long) h * d;
                        float s = dot(qs, qBase, ks, kBase, d) * scale;
                        scores[j] = s;
                        max = Math.max(max, s);
                    }
                    double sum = 0;
                    for (int j = 0; j < keys; j++) {
                        float e = (float) Math.exp(scores[j] - max);
                        scores[j] = e;
                        sum += e;
                    }
                    java.util.Arrays.fill(acc, 0f);
                    for (int j = 0; j < keys; j++) {
                        long vBase = ((long) b * nk + j) * heads * dv + (long) h * dv;
                        axpy(scores[j], vs, vBase, acc, dv);
                    }
                    float inv = (float) (1.0 / sum);
                    long oBase = ((long) b * nq + i) * heads * dv + (long) h * dv;
                    for (int c = 0; c < dv; c++) {
                        os.setAtIndex(CpuVectors.FLOAT, oBase + c, acc[c] * inv);
                    }
                }
            });
        };
    }

    private static float dot(MemorySegment a, long aBase, MemorySegment b, long bBase, int n) {
        FloatVector acc = FloatVector.zero(F);
        for (int c = 0; c < n; c += L) {
            VectorMask<Float> m = F.indexInRange(c, n);
            FloatVector x = FloatVector.fromMemorySegment(F, a, 4 * (aBase + c), ORDER, m);
            FloatVector y = FloatVector.fromMemorySegment(F, b, 4 * (bBase + c), ORDER, m);
            acc = x.fma(y, acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    private static void axpy(float alpha, MemorySegment x, long xBase, float[] y, int n) {
        for (int c = 0; c < n; c += L) {
            VectorMask<Float> m = F.indexInRange(c, n);
            FloatVector xv = FloatVector.fromMemorySegment(F, x, 4 * (xBase + c), ORDER, m);
            FloatVector yv = FloatVector.fromArray(F, y, c, m);
            xv.fma(FloatVector.broadcast(F, alpha), yv).intoArray(y, c, m);
        }
    }
}
