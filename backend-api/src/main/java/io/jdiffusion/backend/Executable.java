package io.jdiffusion.backend;

import io.jdiffusion.backend.graph.Graph;

import java.util.List;

/** A compiled graph, run as many times as needed with new inputs. Not thread-safe: one run at a time. */
public interface Executable extends AutoCloseable {
    Graph graph();

    /** The activation precision actually used. */
    Precision precision();

    /**
     * Does now the one-time work that this backend would otherwise do in the first {@link #run}: a backend that
     * JIT-compiles its kernels for the device compiles them here. A caller that times its stages calls this
     * right after {@link Backend#compile}, so that compilation is counted as preparation and the first run costs
     * what every later run costs. Calling it again does nothing; running without calling it is allowed (the first
     * run then does the work). The default does nothing: for backends whose {@code compile} leaves nothing for
     * later (the CPU backend packs its weights there).
     */
    default void prepare() {
    }

    /**
     * Runs the graph. {@code inputs} follow {@link Graph#inputs()} and {@code outputs} follow
     * {@link Graph#outputs()}; every tensor must belong to this backend and match its value's shape and dtype.
     * The outputs are fully written when this returns. An input that is the same tensor as in the previous run and
     * was not written since (see {@link DeviceTensor}) need not be copied again: a backend may keep it on its device,
     * notably a graph's steady inputs ({@link io.jdiffusion.backend.graph.GraphBuilder#steadyInput}).
     */
    void run(List<? extends DeviceTensor> inputs, List<? extends DeviceTensor> outputs);

    /** Bytes of the intermediate-buffer arena this plan uses. */
    long arenaBytes();

    @Override
    void close();
}
