package io.jdiffusion.core;

import java.util.Arrays;

/**
 * The dimensions of a row-major tensor. Immutable; a zero-rank shape is a scalar of one element.
 */
public final class Shape {
    private final long[] dims;
    private final long elementCount;

    private Shape(long[] dims) {
        long n = 1;
        for (long d : dims) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(dims));
            }
            n = Math.multiplyExact(n, d);
        }
        this.dims = dims;
        this.elementCount = n;
    }

    public static Shape of(long... dims) {
        return new Shape(dims.clone());
    }

    public static Shape of(int... dims) {
        long[] d = new long[dims.length];
        for (int i = 0; i < dims.length; i++) {
            d[i] = dims[i];
        }
        return new Shape(d);
    }

    public int rank() {
        return dims.length;
    }

    /** Dimension {@code i}; negative indices count from the end, as in PyTorch. */
    public long dim(int i) {
        return dims[i < 0 ? dims.length + i : i];
    }

    /** Dimension {@code i} as an int, failing when it does not fit. */
    public int size(int i) {
        return Math.toIntExact(dim(i));
    }

    public long elementCount() {
        return elementCount;
    }

    public long[] dims() {
        return dims.clone();
    }

    /** Elements in one slice along dimension 0 (the product of all other dimensions). */
    public long innerCount() {
        return dims.length == 0 ? 1 : (dims[0] == 0 ? 0 : elementCount / dims[0]);
    }

    /** Product of the dimensions from {@code from} (inclusive) to the end. */
    public long countFrom(int from) {
        long n = 1;
        for (int i = from; i < dims.length; i++) {
            n *= dims[i];
        }
        return n;
    }

    /** This shape with dimension {@code i} replaced. */
    public Shape withDim(int i, long value) {
        long[] d = dims.clone();
        d[i < 0 ? d.length + i : i] = value;
        return new Shape(d);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Shape s && Arrays.equals(dims, s.dims);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(dims);
    }

    @Override
    public String toString() {
        return Arrays.toString(dims);
    }
}
