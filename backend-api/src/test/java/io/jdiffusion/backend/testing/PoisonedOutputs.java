package io.jdiffusion.backend.testing;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.DeviceTensor;
import io.jdiffusion.backend.Executable;
import io.jdiffusion.backend.graph.Graph;
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

    /**
     * Runs {@code exe} (compiled from {@code graph} on {@code backend}) once on {@code inputs} into poisoned outputs
     * and returns its first output; the device tensors are closed, the executable is left open.
     */
    public static float[] runFirstOutput(Backend backend, Executable exe, Graph graph, List<Tensor> inputs) {
        List<DeviceTensor> in = new ArrayList<>();
        List<DeviceTensor> out = allocate(backend, graph.outputs());
        try {
            for (Tensor t : inputs) {
                in.add(backend.upload(t));
            }
            exe.run(in, out);
            try (Tensor result = backend.download(out.getFirst())) {
                return result.toFloatArray();
            }
        } finally {
            in.forEach(DeviceTensor::close);
            out.forEach(DeviceTensor::close);
        }
    }

    public static void poison(Backend backend, DeviceTensor d) {
        try (Tensor nan = Tensor.allocate(d.shape(), d.dtype())) {
            nan.poison();
            backend.upload(nan, d);
        }
    }
}
