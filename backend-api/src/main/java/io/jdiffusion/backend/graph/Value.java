package io.jdiffusion.backend.graph;

import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

/**
 * A symbolic tensor in a {@link Graph}: a graph input, a constant (a weight, backed by a host tensor
 * that usually is a memory-mapped view), or the result of an operator. Identity is the object itself.
 */
public final class Value {
    /** Where a value's data comes from. */
    public enum Kind {
        INPUT,
        CONSTANT,
        RESULT
    }

    private final int id;
    private final String name;
    private final Shape shape;
    private final DType dtype;
    private final Kind kind;
    private final Tensor constant;

    Value(int id, String name, Shape shape, DType dtype, Kind kind, Tensor constant) {
        this.id = id;
        this.name = name;
        this.shape = shape;
        this.dtype = dtype;
        this.kind = kind;
        this.constant = constant;
    }

    /** Position in its graph's value list; dense from 0. */
    public int id() {
        return id;
    }

    public String name() {
        return name;
    }

    public Shape shape() {
        return shape;
    }

    public DType dtype() {
        return dtype;
    }

    public Kind kind() {
        return kind;
    }

    /** The host data of a {@link Kind#CONSTANT}; {@code null} otherwise. */
    public Tensor constant() {
        return constant;
    }

    /**
     * Hands the pages of a constant backed by a memory-mapped file (a checkpoint) back to the file cache, once a
     * backend has copied or packed it: without this a model stays resident twice, the mapped file beside the
     * backend's copy. Only pages are dropped: the mapping stays valid and a later read faults the data back in.
     * Does nothing for any other value.
     */
    public void releaseMappedPages() {
        if (kind == Kind.CONSTANT && constant.segment().isMapped()) {
            constant.segment().unload();
        }
    }

    public long byteSize() {
        return shape.elementCount() * dtype.byteSize();
    }

    @Override
    public String toString() {
        return "%" + id + (name.isEmpty() ? "" : "(" + name + ")") + shape + dtype;
    }
}
