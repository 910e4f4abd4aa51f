package io.jdiffusion.cpu;

import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * What kernels need while they are built: the pool, the shared workspace, and the constants in the forms
 * kernels read (GEMM panels, Winograd filters, F32 copies), taken from the backend's {@link WeightCache} so
 * every executable of one model shares them. A compiled graph never reads the caller's constant tensors
 * again, so they (often a memory-mapped file) may be closed once compilation returns.
 */
final class CompileContext {
    final WorkerPool pool;
    final Workspace workspace;
    final KernelOptions options;
    final WinogradSelection winograd;
    private final WeightCache cache;
    private final MemorySegment[] fixed;
    private final List<PackedWeights> acquired = new ArrayList<>();

    CompileContext(WorkerPool pool, Workspace workspace, WeightCache cache, MemorySegment[] fixed,
                   KernelOptions options, WinogradSelection winograd) {
        this.pool = pool;
        this.options = options;
        this.winograd = winograd;
        this.workspace = workspace;
        this.cache = cache;
        this.fixed = fixed;
    }

    /**
     * Gives constant {@code v} a buffer kernels read in place: F32 for float constants (F16/BF16 are
     * widened), the raw bytes for integer ones. Non-constants and constants already bound are left alone.
     */
    void requireF32(Value v) {
        if (v == null || v.kind() != Value.Kind.CONSTANT || fixed[v.id()] != null) {
            return;
        }
        Tensor src = v.constant();
        long n = src.elementCount();
        DType storage = src.dtype().isFloatingPoint() ? DType.F32 : src.dtype();
        PackedWeights copy = packed(v, new WeightForm(WeightForm.Kind.COPY, Math.toIntExact(n), 1, false, storage), () -> {
            PackedWeights w = PackedWeights.allocate(n, storage);
            if (storage != DType.F32) {
                MemorySegment.copy(src.segment(), 0, w.segment(), 0, src.byteSize());
                return w;
            }
            float[] row = new float[(int) Math.min(n, 1 << 16)];
            for (long i = 0; i < n; i += row.length) {
                int count = (int) Math.min(row.length, n - i);
                for (int j = 0; j < count; j++) {
                    row[j] = src.getFloat(i + j);
                }
                w.write(i, row, 0, count);
            }
            return w;
        });
        fixed[v.id()] = copy.segment();
    }

    /**
     * The packing of constant {@code v} in {@code form}, shared through the backend's cache; {@code pack}
     * makes it when no executable holds it yet. This executable holds it until it closes.
     */
    PackedWeights packed(Value v, WeightForm form, java.util.function.Supplier<PackedWeights> pack) {
        PackedWeights w = cache.acquire(v.constant(), form, () -> {
            PackedWeights made = pack.get();
            double[] r = made.rounding();
            if (v.constant().dtype() == DType.F32 && made.storage() == DType.F16) {
                cache.recordNarrowing(r[0], r[1]);
            }
            return made;
        });
        acquired.add(w);
        return w;
    }

    /**
     * The storage precision of weights packed from {@code t}: the file's own for F16 and BF16; F32 stays F32
     * unless {@link KernelOptions#f32WeightsAsF16()} asks for F16 and every value fits F16's range.
     */
    DType weightStorage(Tensor t) {
        return switch (t.dtype()) {
            case F16, BF16 -> t.dtype();
            case F32 -> options.f32WeightsAsF16() && fitsF16(t) ? DType.F16 : DType.F32;
            default -> throw new IllegalArgumentException("weights must be F32, F16 or BF16, got " + t.dtype() + " " + t.shape());
        };
    }

    private static boolean fitsF16(Tensor t) {
        long n = t.elementCount();
        for (long i = 0; i < n; i++) {
            float v = Math.abs(t.getFloat(i));
            if (!(v <= 65504f)) {
                return false;
            }
        }
        return true;
    }

    /** A weight's packing in {@code kind}, at {@link #weightStorage} precision (kept Winograd filters: F32), made by {@code pack} into zeroed storage of {@code values}. */
    PackedWeights weights(Value w, WeightForm.Kind kind, int rows, int cols, boolean geglu, long values,
                          Function<PackedWeights, PackedWeights> pack) {
        DType storage = kind.winogradFilters() ? DType.F32 : weightStorage(w.constant());
        return packed(w, new WeightForm(kind, rows, cols, geglu, storage),
                () -> pack.apply(PackedWeights.allocate(values, storage)));
    }

    /**
     * A constant's F32 values as a heap array padded by {@link Gemm#NR} zeros (a bias, read by GEMM epilogues
     * a tile row at a time), shared like every packing; {@code null} for a non-constant.
     */
    float[] constantFloats(Value v) {
        if (v == null || v.kind() != Value.Kind.CONSTANT) {
            return null;
        }
        int n = Math.toIntExact(v.shape().elementCount());
        PackedWeights w = packed(v, new WeightForm(WeightForm.Kind.HEAP_COPY, n, 1, false, DType.F32), () -> {
            float[] a = new float[n + Gemm.NR];
            for (int i = 0; i < n; i++) {
                a[i] = v.constant().getFloat(i);
            }
            return PackedWeights.ofArray(a);
        });
        return (float[]) w.segment().heapBase().orElseThrow();
    }

    /** Bytes of the packings this executable uses (shared with other executables of the same weights). */
    long weightBytes() {
        return acquired.stream().distinct().mapToLong(PackedWeights::byteSize).sum();
    }

    void close() {
        acquired.forEach(cache::release);
        acquired.clear();
    }
}
