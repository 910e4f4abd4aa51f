package io.jdiffusion.tornado;

import uk.ac.manchester.tornado.api.types.HalfFloat;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;

/**
 * Scratch arrays filled with NaN when they are made, so that an element a kernel reads before any kernel wrote it
 * shows up as NaN in the result rather than as a plausible zero.
 */
final class PoisonedArrays {
    private PoisonedArrays() {
    }

    static FloatArray floats(int n) {
        FloatArray a = new FloatArray(n);
        a.init(Float.NaN);
        return a;
    }

    static HalfFloatArray halves(int n) {
        HalfFloatArray a = new HalfFloatArray(n);
        a.init(new HalfFloat(Float.NaN));
        return a;
    }
}
