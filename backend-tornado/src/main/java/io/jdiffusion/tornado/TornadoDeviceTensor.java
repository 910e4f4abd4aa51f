package io.jdiffusion.tornado;

import io.jdiffusion.backend.HostBackedTensor;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

/**
 * A graph input or output of the TornadoVM backend. TornadoVM owns device memory per execution plan, so
 * these live in host memory: an executable copies its inputs into the plan's input buffers and its
 * outputs out of the plan's output buffer, the only host-device traffic of a run. Weights and every
 * intermediate stay on the device.
 *
 * <p>Each write (an upload, or a run writing it as an output: the only ways its contents change) gives the tensor
 * a new {@link #contents() stamp}, unique across the backend. An executable that keeps a steady input on the device
 * remembers the stamp it copied and copies again only when the stamp differs: another tensor, or this one
 * rewritten. A stamp, not a flag set on write: several executables may hold the same tensor's contents, each
 * knowing only what it copied itself.
 */
final class TornadoDeviceTensor extends HostBackedTensor {
    private final TornadoBackend owner;
    private volatile long contents;

    TornadoDeviceTensor(TornadoBackend owner, Shape shape, DType dtype) {
        super(Tensor.allocate(shape, dtype), TornadoBackendProvider.NAME, owner.meter());
        this.owner = owner;
        this.contents = owner.nextContents();
    }

    Tensor host() {
        return storage();
    }

    TornadoBackend owner() {
        return owner;
    }

    /** The stamp of the current contents: differs from every stamp this backend gave before. */
    long contents() {
        return contents;
    }

    /** Records a write of the contents (an upload, or a run's output). */
    void written() {
        contents = owner.nextContents();
    }
}
