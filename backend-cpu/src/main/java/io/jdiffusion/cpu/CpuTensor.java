package io.jdiffusion.cpu;

import io.jdiffusion.backend.HostBackedTensor;
import io.jdiffusion.backend.MemoryMeter;
import io.jdiffusion.core.Tensor;

/** A device tensor of the CPU backend: host memory, reached only through the backend's copies. */
final class CpuTensor extends HostBackedTensor {
    CpuTensor(Tensor host, MemoryMeter meter) {
        super(host, CpuBackendProvider.NAME, meter);
    }

    Tensor host() {
        return storage();
    }
}
