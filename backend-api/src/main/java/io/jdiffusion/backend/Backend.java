package io.jdiffusion.backend;

import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

import java.util.Map;

/**
 * A running backend: it owns device memory and turns recorded {@link Graph}s into {@link Executable}s.
 *
 * <p>Models never call kernels: they record what to compute as a graph of typed operators
 * ({@link io.jdiffusion.backend.graph.Op}), and the backend decides how: the CPU backend runs the nodes
 * eagerly from a planned buffer arena, a GPU backend builds device task graphs and replays them. Only
 * graph inputs and outputs cross between host and device, through the explicit copies below.
 */
public interface Backend extends AutoCloseable {
    String name();

    String deviceDescription();

    /** A device tensor with undefined contents. */
    DeviceTensor allocate(Shape shape, DType dtype);

    /** Copies {@code host} into {@code device} (same shape and dtype). */
    void upload(Tensor host, DeviceTensor device);

    /** Copies {@code device} into {@code host} (same shape and dtype). */
    void download(DeviceTensor device, Tensor host);

    /** A new device tensor holding a copy of {@code host}. */
    default DeviceTensor upload(Tensor host) {
        DeviceTensor d = allocate(host.shape(), host.dtype());
        upload(host, d);
        return d;
    }

    /** A new host tensor holding a copy of {@code device}. */
    default Tensor download(DeviceTensor device) {
        Tensor t = Tensor.allocate(device.shape(), device.dtype());
        download(device, t);
        return t;
    }

    /**
     * Prepares {@code graph} for repeated runs: uploads or repacks its constants (weights) once, plans
     * intermediate buffers, and builds whatever the device replays. {@code precision} is the activation
     * type the caller asks for; a backend that cannot compute in it uses F32 and says so in
     * {@link Executable#precision()}.
     */
    Executable compile(Graph graph, Precision precision);

    default Executable compile(Graph graph) {
        return compile(graph, Precision.F32);
    }

    /** Bytes of device memory this backend holds now (weights, arenas, device tensors). */
    long deviceBytesInUse();

    /** Highest value {@link #deviceBytesInUse()} reached. */
    long peakDeviceBytes();

    /**
     * {@link #deviceBytesInUse()} by what holds it (e.g. "weights", "arenas", "workspaces", "tensors"), in
     * a stable order, for reports; a backend that does not break it down gives one "device" entry.
     */
    default Map<String, Long> memoryBreakdown() {
        return Map.of("device", deviceBytesInUse());
    }

    /**
     * Whether this backend computes on a device with memory of its own (a GPU). A backend that computes in
     * host memory (the CPU backend) counts its buffers in {@link #deviceBytesInUse()} too, but they are part
     * of the process's resident memory, so reports leave "device memory" out for it.
     */
    default boolean hasDeviceMemory() {
        return true;
    }

    @Override
    default void close() {
    }
}
