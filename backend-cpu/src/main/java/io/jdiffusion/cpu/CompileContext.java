package io.jdiffusion.cpu;

import io.jdiffusion.backend.MemoryMeter;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * What kernels need while they are built: the pool, the shared workspace, and constants as F32 copies
 * owned by the executable (made only for constants a kernel reads directly; repacked weights are widened
 * while packing instead), so a compiled graph never reads the caller's constant tensors again.
 */
final class CompileContext {
    final WorkerPool pool;
    final Workspace workspace;
    final KernelOptions options;
    final WinogradSelection winograd;
    private final MemoryMeter meter;
    private final MemorySegment[] fixed;
    private final Arena widenedArena = Arena.ofShared();
    private long ownedBytes;

    CompileContext(WorkerPool pool, Workspace workspace, MemoryMeter meter, MemorySegment[] fixed, KernelOptions options,
                   WinogradSelection winograd) {
        this.pool = pool;
        this.options = options;
        this.winograd = winograd;
        this.workspace = workspace;
        this.meter = meter;
        this.fixed = fixed;
    }

    /**
     * Gives constant {@code v} a buffer of this executable's own: F32 for float constants (F16/BF16 are
     * widened), the raw bytes for integer ones. Kernels read constants only through such copies or through
     * weights they repacked, so after compilation the graph's constant tensors (often a memory-mapped file)
     * can be closed. Non-constants and constants already copied are left alone.
     */
    void requireF32(Value v) {
        if (v == null || v.kind() != Value.Kind.CONSTANT || fixed[v.id()] != null) {
            return;
        }
        Tensor src = v.constant();
        long n = src.elementCount();
        MemorySegment dst;
        if (src.dtype().isFloatingPoint()) {
            dst = widenedArena.allocate(4 * Math.max(n, 1), 64).asSlice(0, 4 * n);
            if (src.dtype() == DType.F32) {
                MemorySegment.copy(src.segment(), 0, dst, 0, 4 * n);
            } else {
                for (long i = 0; i < n; i++) {
                    dst.setAtIndex(CpuVectors.FLOAT, i, src.getFloat(i));
                }
            }
        } else {
            dst = widenedArena.allocate(Math.max(src.byteSize(), 1), 64).asSlice(0, src.byteSize());
            MemorySegment.copy(src.segment(), 0, dst, 0, src.byteSize());
        }
        fixed[v.id()] = dst;
        countOwned(dst.byteSize());
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
