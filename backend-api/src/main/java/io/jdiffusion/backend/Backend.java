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
 *
 * <p>Get one from {@link Backends#create(String)}. <b>Ownership:</b> the caller that created a backend closes
 * it, after closing every {@link Executable} and {@link DeviceTensor} it made (a pipeline closes its
 * executables, never the backend it was given). <b>Threads:</b> allocation, copies and compilation may be called
 * from any thread; an executable runs one call at a time (see {@link Executable}).
 */
public interface Backend extends AutoCloseable {
    /**
     * The name {@link Backends#create(String)} selects this backend by.
     *
     * @return the provider's name, e.g. {@code cpu} or {@code tornado}
     */
    String name();

    /**
     * What this backend computes on, for logs and run summaries.
     *
     * @return one line, e.g. {@code 2 threads, AVX-512 (512-bit vectors)} or the GPU's name
     */
    String deviceDescription();

    /**
     * Allocates a device tensor whose contents are undefined until written by an upload or a run.
     *
     * @param shape the tensor's dimensions
     * @param dtype its element type
     * @return a new tensor of this backend; the caller closes it
     * @throws IllegalStateException if this backend is closed
     */
    DeviceTensor allocate(Shape shape, DType dtype);

    /**
     * Copies a host tensor into an existing device tensor; the copy is complete when this returns, so
     * {@code host} may be changed or closed at once.
     *
     * @param host   the data to copy
     * @param device the destination, of this backend, with the same shape and dtype as {@code host}
     * @throws IllegalArgumentException if the shapes or dtypes differ or {@code device} belongs to another backend
     */
    void upload(Tensor host, DeviceTensor device);

    /**
     * Copies a device tensor into an existing host tensor, waiting for any run that writes {@code device}.
     *
     * @param device the data to copy, of this backend
     * @param host   the destination, with the same shape and dtype as {@code device}
     * @throws IllegalArgumentException if the shapes or dtypes differ or {@code device} belongs to another backend
     */
    void download(DeviceTensor device, Tensor host);

    /**
     * Allocates a device tensor of {@code host}'s shape and dtype and copies {@code host} into it.
     *
     * @param host the data to copy; it stays the caller's
     * @return a new device tensor holding a copy; the caller closes it
     */
    default DeviceTensor upload(Tensor host) {
        DeviceTensor d = allocate(host.shape(), host.dtype());
        upload(host, d);
        return d;
    }

    /**
     * Allocates a host tensor of {@code device}'s shape and dtype and copies {@code device} into it.
     *
     * @param device the data to copy, of this backend
     * @return a new host tensor holding a copy; the caller closes it
     */
    default Tensor download(DeviceTensor device) {
        Tensor t = Tensor.allocate(device.shape(), device.dtype());
        download(device, t);
        return t;
    }

    /**
     * Prepares {@code graph} for repeated runs: uploads or repacks its constants (weights) once, plans
     * intermediate buffers, and builds whatever the device replays. What a backend leaves for later (a JIT
     * compiler's kernels) it does in {@link Executable#prepare()}, or else in the first run. The graph's weights
     * must stay readable (their model open) while the executable lives.
     *
     * @param graph     the recorded network, with its input and output values
     * @param precision the activation type the caller asks for; a backend that cannot compute in it uses F32
     *                  and says so in {@link Executable#precision()}
     * @return the executable; the caller closes it (before closing this backend)
     * @throws IllegalStateException if this backend is closed
     */
    Executable compile(Graph graph, Precision precision);

    /**
     * As {@link #compile(Graph, Precision)} in F32.
     *
     * @param graph the recorded network
     * @return the executable; the caller closes it
     */
    default Executable compile(Graph graph) {
        return compile(graph, Precision.F32);
    }

    /**
     * Caps the memory the backend may spend, per compiled network, on copies of the weights that only make the
     * network faster (the CPU backend's Winograd-transformed filters), for networks compiled from now on: the share
     * of a memory budget left for speed once the weights themselves fit. The cap only lowers the backend's own
     * limit; a network compiled under it computes the same function (to rounding), perhaps more slowly. Backends
     * without such copies ignore it.
     *
     * @param bytesPerNetwork the most bytes of such copies one compiled network may keep (0: none)
     */
    default void limitDerivedWeightBytes(long bytesPerNetwork) {
    }

    /**
     * The device memory held now, for reports and memory limits.
     *
     * @return bytes held by weights, arenas and device tensors that are not closed yet
     */
    long deviceBytesInUse();

    /**
     * The high-water mark of {@link #deviceBytesInUse()} since this backend started.
     *
     * @return the most bytes held at any one time
     */
    long peakDeviceBytes();

    /**
     * {@link #deviceBytesInUse()} by what holds it, for reports.
     *
     * @return bytes by holder (e.g. "weights", "arenas", "workspaces", "tensors") in a stable order; a backend
     *         that does not break it down gives one "device" entry
     */
    default Map<String, Long> memoryBreakdown() {
        return Map.of("device", deviceBytesInUse());
    }

    /**
     * Whether this backend computes on a device with memory of its own (a GPU). A backend that computes in
     * host memory (the CPU backend) counts its buffers in {@link #deviceBytesInUse()} too, but they are part
     * of the process's resident memory, so reports leave "device memory" out for it.
     *
     * @return true for a device with its own memory, false for one that computes in host memory
     */
    default boolean hasDeviceMemory() {
        return true;
    }

    /**
     * The memory of the device this backend computes on, for choices such as decoding an image whole or in tiles.
     *
     * @return bytes of device memory, or 0 where the backend computes in host memory or cannot tell
     */
    default long deviceMemoryCapacity() {
        return 0;
    }

    /**
     * Records the time of every operator of the networks this backend runs from now on into {@code profile}, or
     * stops recording with {@code null}. A backend that must synchronise to time an operator (a GPU) runs a
     * profiled call slower than an unprofiled one.
     *
     * @param profile where the times go, or {@code null} to stop recording
     * @return whether this backend can profile its operators (when not, {@code profile} stays empty)
     */
    default boolean profileOperators(OperatorProfile profile) {
        return false;
    }

    /**
     * Stops the backend: ends its worker threads and releases the device. Executables and device tensors of
     * this backend must not be used afterwards; close them first.
     */
    @Override
    default void close() {
    }
}
