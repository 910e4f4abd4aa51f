package io.jdiffusion.backend.graph;

import io.jdiffusion.core.Shape;

/** NumPy broadcasting rules, shared by graph building and by backends' index arithmetic. */
public final class Broadcast {
    private Broadcast() {
    }

    /** The broadcast shape of {@code a} and {@code b}; fails naming both when they do not broadcast. */
    public static Shape shape(Shape a, Shape b) {
        int rank = Math.max(a.rank(), b.rank());
        long[] dims = new long[rank];
        for (int i = 0; i < rank; i++) {
            long da = i < rank - a.rank() ? 1 : a.dim(i - (rank - a.rank()));
            long db = i < rank - b.rank() ? 1 : b.dim(i - (rank - b.rank()));
            if (da != db && da != 1 && db != 1) {
                throw new IllegalArgumentException("shapes " + a + " and " + b + " do not broadcast");
            }
            dims[i] = da == 1 ? db : da;
        }
        return Shape.of(dims);
    }

    /**
     * Element strides of {@code operand} laid against {@code out}: 0 along broadcast dimensions, so the
     * flat index of an output coordinate c in the operand is sum(c[i] * strides[i]).
     */
    public static long[] strides(Shape operand, Shape out) {
        int rank = out.rank();
        long[] strides = new long[rank];
        long stride = 1;
        for (int i = rank - 1; i >= 0; i--) {
            int oi = i - (rank - operand.rank());
            long d = oi >= 0 ? operand.dim(oi) : 1;
            strides[i] = d == 1 ? 0 : stride;
            stride *= d;
        }
        return strides;
    }
}
