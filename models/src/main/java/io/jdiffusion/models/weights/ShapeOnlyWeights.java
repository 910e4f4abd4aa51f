package io.jdiffusion.models.weights;

import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * Weights with the right names, shapes and dtype but no data of their own: every tensor is a view of one
 * shared zero-filled buffer as large as the largest tensor. For recording graphs of full-size networks
 * (parameter counts, operator counts, buffer plans) without gigabytes of memory; running such a graph
 * computes nothing meaningful.
 */
public final class ShapeOnlyWeights implements WeightSource, AutoCloseable {
    private final DType dtype;
    private final List<Tensor> backing = new ArrayList<>();
    private Tensor largest;

    public ShapeOnlyWeights(DType dtype) {
        this.dtype = dtype;
    }

    @Override
    public synchronized Tensor find(String name, Shape shape) {
        long bytes = shape.elementCount() * dtype.byteSize();
        if (largest == null || largest.byteSize() < bytes) {
            largest = Tensor.allocate(Shape.of(shape.elementCount()), dtype);
            backing.add(largest); // earlier views stay valid: their buffers are kept until close()
        }
        return Tensor.view(largest.segment().asSlice(0, bytes), shape, dtype);
    }

    @Override
    public List<String> unusedNames() {
        return List.of();
    }

    @Override
    public String description() {
        return "shape-only " + dtype + " weights";
    }

    @Override
    public synchronized void close() {
        backing.forEach(Tensor::close);
        backing.clear();
        largest = null;
    }
}
