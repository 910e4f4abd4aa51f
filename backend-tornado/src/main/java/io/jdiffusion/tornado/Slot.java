package io.jdiffusion.tornado;

import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/** Where a value lives on the device: one of the executable's buffers and an element offset in it. */
record Slot(Object array, int offset, String what) {
    FloatArray floats() {
        if (array instanceof FloatArray f) {
            return f;
        }
        throw new IllegalArgumentException(what + " is an integer tensor where the tornado backend needs floats");
    }

    IntArray ints() {
        if (array instanceof IntArray i) {
            return i;
        }
        throw new IllegalArgumentException(what + " holds floats where integer ids are needed");
    }
}
