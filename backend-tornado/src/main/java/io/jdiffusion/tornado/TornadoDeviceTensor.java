package io.jdiffusion.tornado;

import io.jdiffusion.backend.DeviceTensor;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

/**
 * A graph input or output of the TornadoVM backend. TornadoVM owns device memory per execution plan, so
 * these live in host memory: an executable copies its inputs into the plan's input buffer and its
 * outputs out of the plan's output buffer, the only host-device traffic of a run. Weights and every
 * intermediate stay on the device.
 */
final class TornadoDeviceTensor implements DeviceTensor {
    private final Tensor host;
    private final TornadoBackend owner;
    private boolean closed;

    TornadoDeviceTensor(TornadoBackend owner, Shape shape, DType dtype) {
        this.owner = owner;
        this.host = Tensor.allocate(shape, dtype);
        owner.track(host.byteSize());
    }

    Tensor host() {
        if (closed) {
            throw new IllegalStateException("device tensor " + shape() + " " + dtype() + " used after close");
        }
        return host;
    }

    TornadoBackend owner() {
        return owner;
    }

    @Override
    public Shape shape() {
        return host.shape();
    }

    @Override
    public DType dtype() {
        return host.dtype();
    }

    @Override
    public String backendName() {
        return TornadoBackendProvider.NAME;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            owner.track(-host.byteSize());
            host.close();
        }
    }
}
