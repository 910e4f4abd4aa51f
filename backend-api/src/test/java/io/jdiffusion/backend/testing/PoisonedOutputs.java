package io.jdiffusion.backend.testing;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.DeviceTensor;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * Output tensors filled with NaN before a kernel writes them, so an element a kernel forgets shows up
 * as a non-finite value (which no tolerance accepts).
 */
public final class PoisonedOutputs {
    private PoisonedOutputs() {
    }

    public static List<DeviceTensor> allocate(Backend backend, List<Value> outputs) {
        List<DeviceTensor> out = new ArrayList<>();
        for (Value v : outputs) {
            DeviceTensor d = backend.allocate(v.shape(), v.dtype());
            poison(backend, d);
            out.add(d);
        }
        return out;
    }

    public static void poison(Backend backend, DeviceTensor d) {
        try (Tensor nan = Tensor.allocate(d.shape(), d.dtype())) {
            nan.poison();
            backend.upload(nan, d);
        }
    }
}
