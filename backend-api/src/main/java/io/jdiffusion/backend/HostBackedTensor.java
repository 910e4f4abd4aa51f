package io.jdiffusion.backend;

import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

/**
 * A device tensor whose storage is a host {@link Tensor}: every tensor of the CPU backend, and the graph inputs
 * and outputs of a backend whose device memory belongs to its compiled plans. Its bytes are counted in the
 * backend's {@link MemoryMeter} from creation to close; use after close fails.
 */
public abstract class HostBackedTensor implements DeviceTensor {
    private final Tensor host;
    private final String backendName;
    private final MemoryMeter meter;
    private boolean closed;

    protected HostBackedTensor(Tensor host, String backendName, MemoryMeter meter) {
        this.host = host;
        this.backendName = backendName;
        this.meter = meter;
        meter.add(host.byteSize());
    }

    /** The storage, for the owning backend's copies and kernels. */
    protected final Tensor storage() {
        if (closed) {
            throw new IllegalStateException("device tensor " + host.shape() + " " + host.dtype() + " used after close()");
        }
        return host;
    }

    @Override
    public final Shape shape() {
        return host.shape();
    }

    @Override
    public final DType dtype() {
        return host.dtype();
    }

    @Override
    public final String backendName() {
        return backendName;
    }

    @Override
    public final void close() {
        if (!closed) {
            closed = true;
            meter.release(host.byteSize());
            host.close();
        }
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + host.shape() + " " + host.dtype();
    }
}
