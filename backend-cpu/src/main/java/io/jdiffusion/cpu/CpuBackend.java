package io.jdiffusion.cpu;

import io.jdiffusion.backend.MemoryMeter;
import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.DeviceTensor;
import io.jdiffusion.backend.Executable;
import io.jdiffusion.backend.OperatorProfile;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The CPU backend: device tensors are host tensors, and a compiled graph runs its operators one after
 * another, each as one multithreaded Vector API kernel, out of a single planned arena.
 */
public final class CpuBackend implements Backend {
    private final WorkerPool pool;
    private final MemoryMeter meter = new MemoryMeter();
    private final WeightCache weights = new WeightCache(meter);
    private final KernelOptions options;
    /** Open executables, for the memory breakdown (their arenas and workspaces). */
    private final Set<CpuExecutable> executables = ConcurrentHashMap.newKeySet();
    /** {@link #limitDerivedWeightBytes}: a cap under the options' Winograd budget for networks compiled from now on. */
    private volatile long derivedWeightLimit = Long.MAX_VALUE;
    private volatile boolean closed;
    /** Where executables record each operator's time; null when not profiling. */
    private volatile OperatorProfile profile;

    public CpuBackend(int threads) {
        this(threads, ConvAlgorithm.AUTO);
    }

    /** A backend whose 3x3 convolutions use {@code convAlgorithm} (benchmarks compare them side by side). */
    CpuBackend(int threads, ConvAlgorithm convAlgorithm) {
        this(threads, convAlgorithm, WinogradConv.CHUNK_FLOATS);
    }

    /** As above, with Winograd's chunk size in floats (tests make it tiny so every image takes several chunks). */
    CpuBackend(int threads, ConvAlgorithm convAlgorithm, long winogradChunkFloats) {
        this(threads, new KernelOptions(convAlgorithm, winogradChunkFloats, CpuSettings.winogradCacheBytes(),
                CpuSettings.f32WeightsAsF16()));
    }

    /** A backend with explicit kernel options (tests and benchmarks compare F32 and F16 weight panels). */
    CpuBackend(int threads, KernelOptions options) {
        if (threads < 1) {
            throw new IllegalArgumentException("the CPU backend needs at least one thread, got " + threads);
        }
        this.pool = new WorkerPool(threads);
        this.options = options;
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
        return CpuBackendProvider.describe(pool.threads())
                + (options.f32WeightsAsF16() ? ", F32 weights packed as F16" : "");
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
        CpuExecutable exe = new CpuExecutable(graph, pool, meter, weights, options.withWinogradCacheAtMost(derivedWeightLimit),
                () -> profile, executables::remove);
        executables.add(exe);
        return exe;
    }

    /**
     * Bounds the Winograd-transformed filters of each network compiled from now on to {@code bytesPerNetwork}
     * (below {@value CpuSettings#WINOGRAD_CACHE_MIB} only): the layers that no longer fit transform their filters
     * as they run, from their weights stored once (see {@link WinogradSelection}).
     */
    @Override
    public void limitDerivedWeightBytes(long bytesPerNetwork) {
        if (bytesPerNetwork < 0) {
            throw new IllegalArgumentException("a derived-weight limit cannot be negative, got " + bytesPerNetwork);
        }
        derivedWeightLimit = bytesPerNetwork;
    }

    /**
     * Where the backend's memory is now: packed weights (shared by all executables; the Winograd filters
     * and what is stored in 2 bytes are parts of it), the executables' activation arenas and scratch, and
     * device tensors (inputs and outputs the caller allocated).
     */
    @Override
    public Map<String, Long> memoryBreakdown() {
        long arenas = 0, workspaces = 0;
        for (CpuExecutable e : executables) {
            arenas += e.arenaBytes();
            workspaces += e.workspaceBytes();
        }
        long packed = weights.bytes();
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("weights", packed);
        m.put("weights_winograd", weights.winogradBytes());
        m.put("weights_2byte", weights.bytesStoredAs(DType.F16) + weights.bytesStoredAs(DType.BF16));
        m.put("arenas", arenas);
        m.put("workspaces", workspaces);
        m.put("tensors", meter.inUse() - packed - arenas - workspaces);
        return m;
    }

    /** Times each operator with the wall clock and the calling thread's CPU clock (all of the work on one thread). */
    @Override
    public boolean profileOperators(OperatorProfile profile) {
        this.profile = profile;
        return true;
    }

    /** Bytes of packed weights held now, once however many executables share them. */
    long packedWeightBytes() {
        return weights.bytes();
    }

    /** Packings held now. */
    int packings() {
        return weights.size();
    }

    /**
     * Relative L2 error that packing F32 weights as F16 ({@link CpuSettings#F32_WEIGHTS_AS_F16}) added over all
     * weights narrowed so far; 0 when none were.
     */
    public double weightNarrowingError() {
        return weights.narrowingError();
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
