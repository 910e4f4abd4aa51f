package io.jdiffusion.tornado;

import io.jdiffusion.tornado.kernels.PointwiseKernels;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;

/**
 * The slots of {@link PointwiseKernels#touchAll}, the one task that makes each graph of a chain use every device
 * buffer (TornadoVM hands on only the buffers a graph's tasks use). The buffers that only some executables have
 * fill its three written F16 slots, its one read-only F16 slot (an array the device only reads: the tensor cores'
 * weights, kept read-only for TornadoVM so that {@link DeviceArrays} can hand its host copy back where the backend
 * page-locks host arrays) and six F32 slots; empty slots get two-element placeholders, which the chain declares like
 * any buffer; buffers past the slots keep a touch task of their own. One launch per graph instead of up to ten:
 * a UNet call on the CUDA backend chains about 26 graphs, each with seven staging arrays and the F16 arena.
 */
final class ChainTouch {
    /** F16 slots {@code touchAll} writes; the read-only one is slot {@value #READ_ONLY_SLOT}. */
    static final int HALF_SLOTS = 3;
    static final int READ_ONLY_SLOT = HALF_SLOTS;
    static final int FLOAT_SLOTS = 6;

    private final HalfFloatArray[] halves = new HalfFloatArray[HALF_SLOTS + 1];
    private final FloatArray[] floats = new FloatArray[FLOAT_SLOTS];
    private final List<Object> placeholders = new ArrayList<>();
    private final List<Object> overflow = new ArrayList<>();
    private int liveHalves;

    /**
     * @param live     tells an F16 buffer the kernel really uses in F16 from a placeholder of an F32 executable
     * @param readOnly tells the F16 buffer the device only reads (at most one takes the read-only slot)
     */
    ChainTouch(List<Object> extra, Predicate<HalfFloatArray> live, Predicate<HalfFloatArray> readOnly) {
        int h = 0;
        int f = 0;
        // One argument per array: TornadoVM's scheduler hangs on a task that writes one array through two.
        Set<Object> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Object buffer : extra) {
            if (!seen.add(buffer)) {
                continue;
            }
            if (buffer instanceof HalfFloatArray half && halves[READ_ONLY_SLOT] == null && readOnly.test(half)) {
                if (live.test(half)) {
                    liveHalves |= 1 << READ_ONLY_SLOT;
                }
                halves[READ_ONLY_SLOT] = half;
            } else if (buffer instanceof HalfFloatArray half && h < HALF_SLOTS) {
                if (live.test(half)) {
                    liveHalves |= 1 << h;
                }
                halves[h++] = half;
            } else if (buffer instanceof FloatArray floatArray && f < FLOAT_SLOTS) {
                floats[f++] = floatArray;
            } else {
                overflow.add(buffer);
            }
        }
        for (int slot = 0; slot < halves.length; slot++) {
            if (halves[slot] == null) {
                halves[slot] = new HalfFloatArray(2);
                placeholders.add(halves[slot]);
            }
        }
        for (; f < FLOAT_SLOTS; f++) {
            floats[f] = new FloatArray(2);
            placeholders.add(floats[f]);
        }
    }

    /** The placeholder arrays in empty slots: device buffers of the chain like the others. */
    List<Object> placeholders() {
        return placeholders;
    }

    /** Buffers past the slots, each touched by a task of its own. */
    List<Object> overflow() {
        return overflow;
    }

    /** Bit i set: F16 slot i (the read-only one included) holds a buffer used in F16 (else its code folds away, for devices without F16). */
    int liveHalves() {
        return liveHalves;
    }

    HalfFloatArray half(int slot) {
        return halves[slot];
    }

    FloatArray floats(int slot) {
        return floats[slot];
    }
}
