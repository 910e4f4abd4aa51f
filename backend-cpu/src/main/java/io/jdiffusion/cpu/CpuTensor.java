package io.jdiffusion.cpu;

import io.jdiffusion.backend.DeviceTensor;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

/** A device tensor of the CPU backend: host memory, reached only through the backend's copies. */
final class CpuTensor implements DeviceTensor {
    private final Tensor host;
    private final MemoryMeter meter;
    private boolean closed;

    CpuTensor(Tensor host, MemoryMeter meter) {
        this.host = host;
        this.meter = meter;
        meter.add(host.byteSize());
    }

    Tensor host() {
        if (closed) {
            throw new IllegalStateException("device tensor " + host.shape() + " " + host.dtype() + " used after close()");
        }
        return host;
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
        return CpuBackendProvider.NAME;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            meter.release(host.byteSize());
            host.close();
        }
    }

    @Override
    public String toString() {
        return "CpuTensor" + host.shape() + " " + host.dtype();
    }
}
