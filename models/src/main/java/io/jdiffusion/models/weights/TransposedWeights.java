package io.jdiffusion.models.weights;

import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * A weight source that hands out some matrices transposed: OpenCLIP stores its text projection as
 * [width, projection] for x @ P, where transformers' linear layer wants [projection, width]. SDXL's is square,
 * so only the name can say which layout a tensor is in. The transposed copies (a few MiB) live until
 * {@link #close()}.
 */
public final class TransposedWeights implements WeightSource, AutoCloseable {
    private final WeightSource inner;
    private final Set<String> transposed;
    private final List<Tensor> copies = new ArrayList<>();

    /** @param transposed diffusers names of the 2-D weights {@code inner} stores transposed */
    public TransposedWeights(WeightSource inner, Set<String> transposed) {
        this.inner = inner;
        this.transposed = Set.copyOf(transposed);
    }

    @Override
    public synchronized Tensor find(String name, Shape expectedShape) {
        Tensor t = inner.find(name, expectedShape);
        if (t == null || !transposed.contains(name) || t.shape().rank() != 2) {
            return t;
        }
        long rows = t.shape().dim(0);
        long cols = t.shape().dim(1);
        Tensor copy = Tensor.allocate(Shape.of(cols, rows), t.dtype());
        for (long i = 0; i < rows; i++) {
            for (long j = 0; j < cols; j++) {
                copy.setFloat(j * rows + i, t.getFloat(i * cols + j));
            }
        }
        copies.add(copy);
        return copy;
    }

    @Override
    public List<String> unusedNames() {
        return inner.unusedNames();
    }

    @Override
    public String description() {
        return inner.description();
    }

    @Override
    public synchronized void close() {
        copies.forEach(Tensor::close);
        copies.clear();
    }
}
