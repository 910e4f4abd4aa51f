package io.jdiffusion.backend.testing;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.DeviceTensor;
import io.jdiffusion.backend.Executable;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

import java.util.Map;

/**
 * A backend that hands every call to another one, for tests that watch or alter what a pipeline asks of its
 * backend: a subclass overrides the calls it cares about (usually {@link #compile}). Closing it leaves the
 * inner backend open: the test that made the inner one closes it.
 */
public abstract class ForwardingBackend implements Backend {
    protected final Backend inner;

    protected ForwardingBackend(Backend inner) {
        this.inner = inner;
    }

    @Override
    public String name() {
        return inner.name();
    }

    @Override
    public String deviceDescription() {
        return inner.deviceDescription();
    }

    @Override
    public DeviceTensor allocate(Shape shape, DType dtype) {
        return inner.allocate(shape, dtype);
    }

    @Override
    public void upload(Tensor host, DeviceTensor device) {
        inner.upload(host, device);
    }

    @Override
    public void download(DeviceTensor device, Tensor host) {
        inner.download(device, host);
    }

    @Override
    public Executable compile(Graph graph, Precision precision) {
        return inner.compile(graph, precision);
    }

    @Override
    public void limitDerivedWeightBytes(long bytesPerNetwork) {
        inner.limitDerivedWeightBytes(bytesPerNetwork);
    }

    @Override
    public long deviceBytesInUse() {
        return inner.deviceBytesInUse();
    }

    @Override
    public long peakDeviceBytes() {
        return inner.peakDeviceBytes();
    }

    @Override
    public Map<String, Long> memoryBreakdown() {
        return inner.memoryBreakdown();
    }

    @Override
    public boolean hasDeviceMemory() {
        return inner.hasDeviceMemory();
    }

    @Override
    public void close() {
    }
}
