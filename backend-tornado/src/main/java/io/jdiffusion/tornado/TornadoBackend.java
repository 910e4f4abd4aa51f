package io.jdiffusion.tornado;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.DeviceTensor;
import io.jdiffusion.backend.Executable;
import io.jdiffusion.backend.MemoryMeter;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import uk.ac.manchester.tornado.api.common.TornadoDevice;

import java.util.concurrent.atomic.AtomicLong;

/** Stable Diffusion's operators as Java kernels that TornadoVM compiles for one device. */
public final class TornadoBackend implements Backend {
    private final TornadoDevice device;
    private final MemoryMeter meter = new MemoryMeter();
    /** The last stamp given to a device tensor's contents ({@link TornadoDeviceTensor#contents()}). */
    private final AtomicLong contentStamps = new AtomicLong();

    TornadoBackend(TornadoDevice device) {
        this.device = device;
    }

    @Override
    public String name() {
        return TornadoBackendProvider.NAME;
    }

    @Override
    public String deviceDescription() {
        return TornadoDevices.describe(device);
    }

    TornadoDevice device() {
        return device;
    }

    @Override
    public DeviceTensor allocate(Shape shape, DType dtype) {
        return new TornadoDeviceTensor(this, shape, dtype);
    }

    @Override
    public void upload(Tensor host, DeviceTensor device) {
        TornadoDeviceTensor d = own(device);
        d.host().copyFrom(host);
        d.written();
    }

    @Override
    public void download(DeviceTensor device, Tensor host) {
        host.copyFrom(own(device).host());
    }

    /** A stamp no device tensor of this backend had before. */
    long nextContents() {
        return contentStamps.incrementAndGet();
    }

    TornadoDeviceTensor own(DeviceTensor t) {
        if (!(t instanceof TornadoDeviceTensor tt) || tt.owner() != this) {
            throw new IllegalArgumentException("tensor " + t.shape() + " " + t.dtype() + " belongs to backend '"
                    + t.backendName() + "', not to this tornado backend");
        }
        return tt;
    }

    @Override
    public Executable compile(Graph graph, Precision precision) {
        return new GraphCompiler(this, graph, precision).compile();
    }

    /** The bytes this backend holds: device tensors and executables' device buffers. */
    MemoryMeter meter() {
        return meter;
    }

    @Override
    public long deviceBytesInUse() {
        return meter.inUse();
    }

    @Override
    public long peakDeviceBytes() {
        return meter.peak();
    }

    /** The device's global memory as TornadoVM reports it (on PoCL, what the OpenCL driver grants of host memory). */
    @Override
    public long deviceMemoryCapacity() {
        return Math.max(0, device.getMaxGlobalMemory());
    }
}
