package io.jdiffusion.cpu;

import io.jdiffusion.backend.MemoryMeter;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Tensor;

import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The backend's packed weights, owned once per model instead of once per compiled graph: a packing is
 * keyed by the constant {@link Tensor} it was made from (its identity, as models hand the same tensor to
 * every graph they record) and its {@link WeightForm}, shared by every executable that asks for it, and
 * freed when the last of them closes. Two image sizes compiled from one model hold one copy of the
 * weights; a LoRA-merged weight is a different tensor, so it gets packings of its own and the base
 * model's stay valid.
 */
final class WeightCache {
    private record Entry(Tensor tensor, WeightForm form, PackedWeights weights, int[] refs) {
    }

    private final MemoryMeter meter;
    private final Map<Tensor, Map<WeightForm, Entry>> byTensor = new IdentityHashMap<>();
    private final Map<PackedWeights, Entry> byPacking = new IdentityHashMap<>();
    private long bytes;
    private long winogradBytes;
    private double narrowedSquaredError;
    private double narrowedSquares;

    WeightCache(MemoryMeter meter) {
        this.meter = meter;
    }

    /** The packing of {@code constant} in {@code form}, made by {@code pack} if no executable holds it yet. */
    synchronized PackedWeights acquire(Tensor constant, WeightForm form, Supplier<PackedWeights> pack) {
        Map<WeightForm, Entry> forms = byTensor.computeIfAbsent(constant, t -> new HashMap<>());
        Entry e = forms.get(form);
        if (e == null) {
            PackedWeights w = pack.get();
            e = new Entry(constant, form, w, new int[1]);
            forms.put(form, e);
            byPacking.put(w, e);
            bytes += w.byteSize();
            if (form.kind().winogradFilters()) {
                winogradBytes += w.byteSize();
            }
            meter.add(w.byteSize());
        }
        e.refs()[0]++;
        return e.weights();
    }

    /** One executable is done with {@code w}; the last one frees it. */
    synchronized void release(PackedWeights w) {
        Entry e = byPacking.get(w);
        if (e == null || --e.refs()[0] > 0) {
            return;
        }
        byPacking.remove(w);
        Map<WeightForm, Entry> forms = byTensor.get(e.tensor());
        forms.remove(e.form());
        if (forms.isEmpty()) {
            byTensor.remove(e.tensor());
        }
        bytes -= w.byteSize();
        if (e.form().kind().winogradFilters()) {
            winogradBytes -= w.byteSize();
        }
        meter.release(w.byteSize());
        w.free();
    }

    /** Adds the rounding of one F32 tensor narrowed to F16: sum of squared errors and of squared values. */
    synchronized void recordNarrowing(double squaredError, double squares) {
        narrowedSquaredError += squaredError;
        narrowedSquares += squares;
    }

    /** Bytes of all packings held now. */
    synchronized long bytes() {
        return bytes;
    }

    /** Bytes of Winograd-transformed filters held now (part of {@link #bytes()}). */
    synchronized long winogradBytes() {
        return winogradBytes;
    }

    /** Packings held now. */
    synchronized int size() {
        return byPacking.size();
    }

    /** Packings held now whose storage is {@code dtype}. */
    synchronized long bytesStoredAs(DType dtype) {
        return byPacking.keySet().stream().filter(w -> w.storage() == dtype).mapToLong(PackedWeights::byteSize).sum();
    }

    /**
     * Relative L2 error that narrowing F32 weights to F16 added, over every narrowed weight since the
     * backend started (0 when none was narrowed).
     */
    synchronized double narrowingError() {
        return narrowedSquares == 0 ? 0 : Math.sqrt(narrowedSquaredError / narrowedSquares);
    }
}
