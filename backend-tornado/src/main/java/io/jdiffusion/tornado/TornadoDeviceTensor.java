package io.jdiffusion.tornado;

import io.jdiffusion.backend.HostBackedTensor;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

/**
 * A graph input or output of the TornadoVM backend. TornadoVM owns device memory per execution plan, so
 * these live in host memory: an executable copies its inputs into the plan's input buffer and its
 * outputs out of the plan's output buffer, the only host-device traffic of a run. Weights and every
 * intermediate stay on the device.
 */
final class TornadoDeviceTensor extends HostBackedTensor {
    private final TornadoBackend owner;

    TornadoDeviceTensor(TornadoBackend owner, Shape shape, DType dtype) {
        super(Tensor.allocate(shape, dtype), TornadoBackendProvider.NAME, owner.meter());
        this.owner = owner;
    }

    Tensor host() {
        return storage();
    }

    TornadoBackend owner() {
        return owner;
    }
}
