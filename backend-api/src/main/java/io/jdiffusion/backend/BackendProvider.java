package io.jdiffusion.backend;

/**
 * The service-provider entry of a backend, found with {@link java.util.ServiceLoader}. It answers the
 * cheap questions (name, priority, availability) without starting the backend; {@link #create()} does.
 * Implementations are listed in {@code META-INF/services/io.jdiffusion.backend.BackendProvider}.
 */
public interface BackendProvider {
    /** Short lower-case name used by {@code --backend} and {@code -Djdiffusion.backend}. */
    String name();

    /** Higher wins when no backend is named: a GPU backend ranks above the CPU one. */
    int priority();

    Availability availability();

    /** A line describing the device, e.g. {@code 2 threads, AVX-512 (512-bit vectors)}. */
    String deviceDescription();

    /** Starts the backend; only called when {@link #availability()} says it is available. */
    Backend create();
}
