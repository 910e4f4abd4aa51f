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
 * fill its four F16 and six F32 slots; empty slots get two-element placeholders, which the chain declares like
 * any buffer; buffers past the slots keep a touch task of their own. One launch per graph instead of up to ten:
 * a UNet call on the CUDA backend chains about 26 graphs, each with seven staging arrays and the F16 arena.
 */
final class ChainTouch {
    static final int HALF_SLOTS = 4;
    static final int FLOAT_SLOTS = 6;

    private final HalfFloatArray[] halves = new HalfFloatArray[HALF_SLOTS];
    private final FloatArray[] floats = new FloatArray[FLOAT_SLOTS];
    private final List<Object> placeholders = new ArrayList<>();
    private final List<Object> overflow = new ArrayList<>();
    private int liveHalves;

    /** {@code live} tells an F16 buffer the kernel really uses in F16 from a placeholder of an F32 executable. */
    ChainTouch(List<Object> extra, Predicate<HalfFloatArray> live) {
        int h = 0;
        int f = 0;
        // One argument per array: TornadoVM's scheduler hangs on a task that writes one array through two.
        Set<Object> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Object buffer : extra) {
            if (!seen.add(buffer)) {
                continue;
            }
            if (buffer instanceof HalfFloatArray half && h < HALF_SLOTS) {
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
        for (; h < HALF_SLOTS; h++) {
            halves[h] = new HalfFloatArray(2);
            placeholders.add(halves[h]);
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

    /** Bit i set: F16 slot i holds a buffer used in F16 (else its code folds away, for devices without F16). */
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
