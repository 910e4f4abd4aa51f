package io.jdiffusion.tornado;

import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * Where a value lives on the device: one of the executable's buffers and an element offset in it. A value in
 * the F16 activation arena ({@code half}) is addressed through the kernels' F16 array at that offset; its
 * {@code array} is then only a placeholder of the right type.
 */
record Slot(Object array, int offset, String what, boolean half) {
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

    /** {@code bit} where this value is F16, else 0: one operand's part of a kernel's {@code halves} mask. */
    int bit(int bit) {
        return half ? bit : 0;
    }

    /** {@link #bit} of an optional operand (a missing bias or residual is never F16). */
    static int bit(Slot slot, int bit) {
        return slot == null ? 0 : slot.bit(bit);
    }
}
