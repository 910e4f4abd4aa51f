package io.jdiffusion.backend;

import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * Runs a graph once from host tensors to host tensors: upload, compile, run, download. For tests and
 * one-off calls; a pipeline keeps its {@link Executable}s and device tensors across steps instead.
 */
public final class HostRunner {
    private HostRunner() {
    }

    /** Outputs in {@link Graph#outputs()} order; the caller closes them. */
    public static List<Tensor> run(Backend backend, Graph graph, List<Tensor> inputs) {
        return run(backend, graph, inputs, Precision.F32);
    }

    public static List<Tensor> run(Backend backend, Graph graph, List<Tensor> inputs, Precision precision) {
        if (inputs.size() != graph.inputs().size()) {
            throw new IllegalArgumentException(graph.name() + " takes " + graph.inputs().size() + " inputs, got " + inputs.size());
        }
        List<DeviceTensor> in = new ArrayList<>();
        List<DeviceTensor> out = new ArrayList<>();
        try (Executable exe = backend.compile(graph, precision)) {
            for (Tensor t : inputs) {
                in.add(backend.upload(t));
            }
            for (Value v : graph.outputs()) {
                out.add(backend.allocate(v.shape(), v.dtype()));
            }
            exe.run(in, out);
            List<Tensor> results = new ArrayList<>();
            for (DeviceTensor d : out) {
                results.add(backend.download(d));
            }
            return results;
        } finally {
            in.forEach(DeviceTensor::close);
            out.forEach(DeviceTensor::close);
        }
    }
}
