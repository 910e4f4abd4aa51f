package io.jdiffusion.cpu;

import io.jdiffusion.backend.MemoryMeter;
import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.DeviceTensor;
import io.jdiffusion.backend.Executable;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

/**
 * The CPU backend: device tensors are host tensors, and a compiled graph runs its operators one after
 * another, each as one multithreaded Vector API kernel, out of a single planned arena.
 */
public final class CpuBackend implements Backend {
    private final WorkerPool pool;
    private final MemoryMeter meter = new MemoryMeter();
    private final ConvAlgorithm convAlgorithm;
    private final long winogradChunkFloats;
    private final long winogradCacheBytes;
    private volatile boolean closed;

    public CpuBackend(int threads) {
        this(threads, ConvAlgorithm.AUTO);
    }

    /** A backend whose 3x3 convolutions use {@code convAlgorithm} (benchmarks compare them side by side). */
    CpuBackend(int threads, ConvAlgorithm convAlgorithm) {
        this(threads, convAlgorithm, WinogradConv.CHUNK_FLOATS);
    }

    /** As above, with Winograd's chunk size in floats (tests make it tiny so every image takes several chunks). */
    CpuBackend(int threads, ConvAlgorithm convAlgorithm, long winogradChunkFloats) {
        if (threads < 1) {
            throw new IllegalArgumentException("the CPU backend needs at least one thread, got " + threads);
        }
        this.pool = new WorkerPool(threads);
        this.convAlgorithm = convAlgorithm;
        this.winogradChunkFloats = winogradChunkFloats;
        this.winogradCacheBytes = CpuSettings.winogradCacheBytes();
    }

    /** A backend with the threads of {@link CpuSettings#threads()}. */
    public CpuBackend() {
        this(CpuSettings.threads());
    }

    WorkerPool pool() {
        return pool;
    }

    public int threads() {
        return pool.threads();
    }

    /** Bits per vector register the kernels use (128, 256 or 512). */
    public static int vectorBits() {
        return CpuVectors.bits();
    }

    @Override
    public String name() {
        return CpuBackendProvider.NAME;
    }

    @Override
    public String deviceDescription() {
        return CpuBackendProvider.describe(pool.threads());
    }

    @Override
    public DeviceTensor allocate(Shape shape, DType dtype) {
        checkOpen();
        return new CpuTensor(Tensor.allocate(shape, dtype), meter);
    }

    @Override
    public void upload(Tensor host, DeviceTensor device) {
        own(device, "upload").host().copyFrom(host);
    }

    @Override
    public void download(DeviceTensor device, Tensor host) {
        host.copyFrom(own(device, "download").host());
    }

    @Override
    public Executable compile(Graph graph, Precision precision) {
        checkOpen();
        return new CpuExecutable(graph, pool, meter, new KernelOptions(convAlgorithm, winogradChunkFloats, winogradCacheBytes));
    }

    @Override
    public long deviceBytesInUse() {
        return meter.inUse();
    }

    @Override
    public long peakDeviceBytes() {
        return meter.peak();
    }

    /** Packed weights and arenas live in host memory: they are part of the resident set. */
    @Override
    public boolean hasDeviceMemory() {
        return false;
    }

    /** The host tensor behind a device tensor of this backend; fails for another backend's tensor. */
    static CpuTensor own(DeviceTensor device, String what) {
        if (device instanceof CpuTensor t) {
            return t;
        }
        throw new IllegalArgumentException(what + ": " + device + " belongs to backend '" + device.backendName()
                + "', not '" + CpuBackendProvider.NAME + "'");
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the CPU backend is closed");
        }
    }

    @Override
    public void close() {
        closed = true;
        pool.close();
    }
}
