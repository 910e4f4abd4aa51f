package io.jdiffusion.cpu;

import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.BinaryOp;
import io.jdiffusion.backend.graph.Broadcast;
import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.core.Shape;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static io.jdiffusion.cpu.CpuVectors.F;
import static io.jdiffusion.cpu.CpuVectors.FLOAT;
import static io.jdiffusion.cpu.CpuVectors.L;
import static io.jdiffusion.cpu.CpuVectors.ORDER;

/** Standalone activations, broadcasting binary operators and softmax. */
final class PointwiseKernels {
    /** A standalone activation's chunk, per thread. */
    private static final ThreadScratch CHUNK_SCRATCH = new ThreadScratch();
    /** A standalone GEGLU's h and gate rows and the tile pairing them, per thread. */
    private static final ThreadScratch GEGLU_H = new ThreadScratch();
    private static final ThreadScratch GEGLU_GATE = new ThreadScratch();
    private static final ThreadScratch GEGLU_TILE = new ThreadScratch();
    /** Each thread's stored vector of a softmax row's partial sums, for {@link VectorMath#sum}. */
    private static final ThreadScratch SOFTMAX_SUMS = new ThreadScratch();
    /** Each thread's softmax row, less its max, turned into exponentials in place. */
    private static final ThreadScratch SOFTMAX_ROW = new ThreadScratch();

    private PointwiseKernels() {
    }

    /**
     * A standalone activation, chunk by chunk through a heap array and {@link FusedActivation}'s whole-array
     * loops (per-vector calls of {@code ActivationMath} from here were not reliably inlined by C2, and every
     * vector crossing such a call is boxed: about 21 ns per vector of SiLU instead of a few).
     */
    static Kernel unary(Op.Unary op, CompileContext ctx) {
        int x = op.x().id(), out = op.out().id();
        Activation act = op.activation();
        WorkerPool pool = ctx.pool;
        if (act == Activation.GEGLU) {
            int width = op.out().shape().size(-1);
            int vectors = (width + L - 1) / L;
            long rows = op.out().shape().elementCount() / width;
            return buffers -> pool.forRange(rows, 4, (from, to) -> {
                MemorySegment xs = buffers[x], os = buffers[out];
                float[] h = GEGLU_H.floats(vectors * L), gate = GEGLU_GATE.floats(vectors * L);
                float[] tile = GEGLU_TILE.floats(2 * vectors * L);
                for (long r = from; r < to; r++) {
                    MemorySegment.copy(xs, FLOAT, 4 * (r * 2 * width), h, 0, width);
                    MemorySegment.copy(xs, FLOAT, 4 * (r * 2 * width + width), gate, 0, width);
                    for (int v = 0; v < vectors; v++) { // FusedActivation.geglu's rows: h, then the gate, L each
                        FloatVector.fromArray(F, h, v * L).intoArray(tile, 2 * v * L);
                        FloatVector.fromArray(F, gate, v * L).intoArray(tile, 2 * v * L + L);
                    }
                    FusedActivation.geglu(tile, vectors, 2 * L, null, 0, 0);
                    for (int v = 0; v < vectors; v++) {
                        FloatVector.fromArray(F, tile, 2 * v * L).intoArray(h, v * L);
                    }
                    MemorySegment.copy(h, 0, os, FLOAT, 4 * (r * width), width);
                }
            });
        }
        long n = op.x().shape().elementCount();
        return buffers -> pool.forRange(chunks(n), 4, (from, to) -> {
            MemorySegment xs = buffers[x], os = buffers[out];
            float[] a = CHUNK_SCRATCH.floats((int) CHUNK);
            for (long chunk = from; chunk < to; chunk++) {
                long start = chunk * CHUNK;
                int count = (int) Math.min(CHUNK, n - start);
                MemorySegment.copy(xs, FLOAT, 4 * start, a, 0, count);
                int whole = (count + L - 1) / L * L;
                Arrays.fill(a, count, whole, 0f);
                FusedActivation.apply(act, a, whole);
                MemorySegment.copy(a, 0, os, FLOAT, 4 * start, count);
            }
        });
    }

    /** Elements per parallel chunk of flat elementwise loops (a multiple of every vector length). */
    private static final long CHUNK = 4096;

    private static long chunks(long n) {
        return (n + CHUNK - 1) / CHUNK;
    }

    /**
     * out = a (op) b with broadcasting. The index space is collapsed first: size-1 output dimensions are
     * dropped and neighbouring dimensions merged when both operands step through them contiguously (or
     * both broadcast them), so the inner loop runs over the longest possible row with each operand either
     * loaded as vectors (stride 1) or broadcast from one scalar (stride 0).
     */
    static Kernel binary(Op.Binary op, CompileContext ctx) {
        Shape outShape = op.out().shape();
        long[] sa = Broadcast.strides(op.a().shape(), outShape);
        long[] sb = Broadcast.strides(op.b().shape(), outShape);
        List<long[]> dims = new ArrayList<>(); // {size, strideA, strideB}, innermost first
        for (int i = outShape.rank() - 1; i >= 0; i--) {
            long d = outShape.dim(i);
            if (d == 1) {
                continue;
            }
            if (!dims.isEmpty()) {
                long[] inner = dims.getLast();
                if (sa[i] == inner[1] * inner[0] && sb[i] == inner[2] * inner[0]) {
                    inner[1] = sa[i] == 0 ? 0 : inner[1];
                    inner[2] = sb[i] == 0 ? 0 : inner[2];
                    inner[0] *= d;
                    continue;
                }
            }
            dims.add(new long[]{d, sa[i], sb[i]});
        }
        if (dims.isEmpty()) {
            dims.add(new long[]{1, 1, 1});
        }
        long width = dims.getFirst()[0];
        boolean aVec = dims.getFirst()[1] == 1, bVec = dims.getFirst()[2] == 1;
        int outerRank = dims.size() - 1;
        long[] outerSize = new long[outerRank], outerA = new long[outerRank], outerB = new long[outerRank];
        for (int i = 0; i < outerRank; i++) {
            long[] e = dims.get(i + 1);
            outerSize[i] = e[0];
            outerA[i] = e[1];
            outerB[i] = e[2];
        }
        long rows = outShape.elementCount() / width;
        BinaryOp kind = op.op();
        int a = op.a().id(), b = op.b().id(), out = op.out().id();
        WorkerPool pool = ctx.pool;
        return buffers -> pool.forRange(rows, 4, (from, to) -> {
            MemorySegment as = buffers[a], bs = buffers[b], os = buffers[out];
            for (long r = from; r < to; r++) {
                long offA = 0, offB = 0, rem = r;
                for (int i = 0; i < outerRank; i++) {
                    long c = rem % outerSize[i];
                    rem /= outerSize[i];
                    offA += c * outerA[i];
                    offB += c * outerB[i];
                }
                long o = r * width;
                // Broadcast operands as floats: a vector variable that may be null would be boxed by the JIT.
                float sA = aVec ? 0f : as.getAtIndex(FLOAT, offA);
                float sB = bVec ? 0f : bs.getAtIndex(FLOAT, offB);
                for (long j = 0; j < width; j += L) {
                    VectorMask<Float> m = F.indexInRange(0, (int) Math.min(L, width - j));
                    FloatVector va = aVec ? FloatVector.fromMemorySegment(F, as, 4 * (offA + j), ORDER, m) : FloatVector.broadcast(F, sA);
                    FloatVector vb = bVec ? FloatVector.fromMemorySegment(F, bs, 4 * (offB + j), ORDER, m) : FloatVector.broadcast(F, sB);
                    FloatVector y = switch (kind) {
                        case ADD -> va.add(vb);
                        case SUB -> va.sub(vb);
                        case MUL -> va.mul(vb);
                    };
                    y.intoMemorySegment(os, 4 * (o + j), ORDER, m);
                }
            }
        });
    }

    /**
     * Softmax over the last dimension: the row's max; the row less its max into a per-thread array; {@link VectorMath#exp}
     * over that array (arrays, not vectors, cross the call); the sum; one scaling pass into out.
     */
    static Kernel softmax(Op.Softmax op, CompileContext ctx) {
        int width = op.x().shape().size(-1);
        int padded = (width + L - 1) / L * L;
        long rows = op.x().shape().elementCount() / width;
        int x = op.x().id(), out = op.out().id();
        WorkerPool pool = ctx.pool;
        return buffers -> pool.forRange(rows, 4, (from, to) -> {
            MemorySegment xs = buffers[x], os = buffers[out];
            float[] row = SOFTMAX_ROW.floats(padded);
            float[] lanes = SOFTMAX_SUMS.floats(L);
            for (long r = from; r < to; r++) {
                long base = r * width;
                FloatVector mx = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
                for (int c = 0; c < width; c += L) {
                    VectorMask<Float> m = F.indexInRange(c, width);
                    mx = mx.lanewise(VectorOperators.MAX, FloatVector.fromMemorySegment(F, xs, 4 * (base + c), ORDER, m), m);
                }
                FloatVector max = FloatVector.broadcast(F, mx.reduceLanes(VectorOperators.MAX));
                for (int c = 0; c < width; c += L) {
                    VectorMask<Float> m = F.indexInRange(c, width);
                    FloatVector.fromMemorySegment(F, xs, 4 * (base + c), ORDER, m).sub(max).intoArray(row, c);
                }
                VectorMath.exp(row, 0, padded);
                FloatVector sum = FloatVector.zero(F);
                for (int c = 0; c < width; c += L) {
                    sum = sum.add(FloatVector.fromArray(F, row, c), F.indexInRange(c, width));
                }
                sum.intoArray(lanes, 0);
                FloatVector inv = FloatVector.broadcast(F, 1f / VectorMath.sum(lanes, 0));
                for (int c = 0; c < width; c += L) {
                    FloatVector.fromArray(F, row, c).mul(inv).intoMemorySegment(os, 4 * (base + c), ORDER, F.indexInRange(c, width));
                }
            }
        });
    }
}
