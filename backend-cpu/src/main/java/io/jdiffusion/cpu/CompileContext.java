package io.jdiffusion.cpu;

import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * What kernels need while they are built: the pool, the shared workspace, and constants as F32. F32
 * constants are used where they lie (often a memory-mapped file); F16/BF16 ones are widened once, and
 * only when a kernel reads them directly (repacked weights are widened while packing instead).
 */
final class CompileContext {
    final WorkerPool pool;
    final Workspace workspace;
    final KernelOptions options;
    private final MemoryMeter meter;
    private final MemorySegment[] fixed;
    private final Arena widenedArena = Arena.ofShared();
    private long ownedBytes;

    CompileContext(WorkerPool pool, Workspace workspace, MemoryMeter meter, MemorySegment[] fixed, KernelOptions options) {
        this.pool = pool;
        this.options = options;
        this.workspace = workspace;
        this.meter = meter;
        this.fixed = fixed;
    }

    /** Makes sure {@code v}'s buffer holds F32 data when {@code v} is a constant of another float type. */
    void requireF32(Value v) {
        if (v == null || v.kind() != Value.Kind.CONSTANT || v.dtype() == DType.F32 || !v.dtype().isFloatingPoint()) {
            return;
        }
        if (fixed[v.id()] != null && fixed[v.id()].byteSize() == 4 * v.shape().elementCount()) {
            return;
        }
        Tensor src = v.constant();
        long n = src.elementCount();
        MemorySegment dst = widenedArena.allocate(4 * Math.max(n, 1), 64).asSlice(0, 4 * n);
        for (long i = 0; i < n; i++) {
            dst.setAtIndex(CpuVectors.FLOAT, i, src.getFloat(i));
        }
        fixed[v.id()] = dst;
        countOwned(4 * n);
    }

    /** A constant's values as an F32 heap array (for small operands such as biases); {@code null} otherwise. */
    float[] constantFloats(Value v) {
        if (v == null || v.kind() != Value.Kind.CONSTANT) {
            return null;
        }
        requireF32(v);
        float[] a = Packing.toArray(fixed[v.id()], Math.toIntExact(v.shape().elementCount()));
        countOwned(4L * a.length);
        return a;
    }

    /** Counts bytes of repacked weights this executable keeps. */
    void countOwned(long bytes) {
        ownedBytes += bytes;
        meter.add(bytes);
    }

    long ownedBytes() {
        return ownedBytes;
    }

    void close() {
        meter.release(ownedBytes);
        ownedBytes = 0;
        widenedArena.close();
    }
}
