package io.jdiffusion.models.pipeline;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Executable;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.graph.Graph;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A backend, the precision asked of it, and the networks compiled on it so far: each network call shape is
 * compiled once (keyed by a name that encodes the shape) and replayed for as long as the runner lives, so a
 * long-lived pipeline (a server) compiles each shape once.
 */
public final class NetworkRunner implements AutoCloseable {
    private final Backend backend;
    private final Precision precision;
    private final Map<String, Executable> executables = new LinkedHashMap<>();
    private long preparationNanos;

    public NetworkRunner(Backend backend, Precision precision) {
        this.backend = backend;
        this.precision = precision;
    }

    public Backend backend() {
        return backend;
    }

    /** The precision asked for at construction. */
    public Precision precisionRequested() {
        return precision;
    }

    /**
     * What the calls compiled so far compute in: F16 if any of them does (a backend without F16 computes an
     * F16 request in F32 and says so), F32 otherwise or before any call.
     */
    public synchronized Precision precisionUsed() {
        return executables.values().stream().anyMatch(e -> e.precision() == Precision.F16) ? Precision.F16 : Precision.F32;
    }

    /**
     * The executable compiled for {@code key}; {@code graph} is recorded, compiled and prepared
     * ({@link Executable#prepare()}: a JIT backend compiles its kernels) the first time only, so that a network's
     * first run costs what its later runs cost and the one-time work is counted in {@link #preparationNanos()}.
     */
    public synchronized Executable executable(String key, Supplier<Graph> graph) {
        return executable(key, graph, precision);
    }

    /**
     * As {@link #executable(String, Supplier)}, compiled in F32 whatever precision was asked for: for networks
     * that overflow F16 (SDXL's VAE, diffusers' {@code force_upcast}).
     */
    public synchronized Executable executableInF32(String key, Supplier<Graph> graph) {
        return executable(key + "@f32", graph, Precision.F32);
    }

    private Executable executable(String key, Supplier<Graph> graph, Precision compiledIn) {
        Executable exe = executables.get(key);
        if (exe == null) {
            long start = System.nanoTime();
            exe = backend.compile(graph.get(), compiledIn);
            try {
                exe.prepare();
            } catch (RuntimeException e) {
                exe.close();
                throw e;
            }
            preparationNanos += System.nanoTime() - start;
            executables.put(key, exe);
        }
        return exe;
    }

    /**
     * Nanoseconds spent so far recording graphs, compiling and preparing them: the preparation that precedes a
     * network's first run (the CPU backend packs weights and transforms Winograd kernels here; the TornadoVM
     * backend builds its task graphs and JIT-compiles their kernels here, and uploads the weights during the
     * first run).
     */
    public synchronized long preparationNanos() {
        return preparationNanos;
    }

    /** Frees the executables whose keys start with {@code keyPrefix} (those of a dropped LoRA set). */
    public synchronized void evict(String keyPrefix) {
        evictIf(key -> key.startsWith(keyPrefix));
    }

    /**
     * Frees every executable of {@code network}, whatever its shape or LoRA set: its arena, and the packed weights no
     * other executable shares. The next call of that network compiles (and packs) it again.
     */
    public synchronized void release(Network network) {
        evictIf(network::owns);
    }

    private void evictIf(java.util.function.Predicate<String> key) {
        var it = executables.entrySet().iterator();
        while (it.hasNext()) {
            var e = it.next();
            if (key.test(e.getKey())) {
                e.getValue().close();
                it.remove();
            }
        }
    }

    /** Frees the compiled networks (and their device buffers); the backend stays open. */
    @Override
    public synchronized void close() {
        executables.values().forEach(Executable::close);
        executables.clear();
    }
}
