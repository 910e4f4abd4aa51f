package io.jdiffusion.backend;

import io.jdiffusion.backend.graph.Graph;

import java.util.List;

/** A compiled graph, run as many times as needed with new inputs. Not thread-safe: one run at a time. */
public interface Executable extends AutoCloseable {
    Graph graph();

    /** The activation precision actually used. */
    Precision precision();

    /**
     * Runs the graph. {@code inputs} follow {@link Graph#inputs()} and {@code outputs} follow
     * {@link Graph#outputs()}; every tensor must belong to this backend and match its value's shape and dtype.
     * The outputs are fully written when this returns.
     */
    void run(List<? extends DeviceTensor> inputs, List<? extends DeviceTensor> outputs);

    /** Bytes of the intermediate-buffer arena this plan uses. */
    long arenaBytes();

    @Override
    void close();
}
