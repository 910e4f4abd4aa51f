package io.jdiffusion.tornado;

import io.jdiffusion.backend.graph.Op;

/**
 * One way an operator runs on the device: the F32/F16 Java kernels, the tensor-core kernels, Winograd, or
 * NVIDIA's libraries. Each path is built for one graph and decides, when it is built, which of the graph's
 * operators it takes; {@link GraphCompiler} asks the paths in order and the first that {@link #handles} an
 * operator runs it.
 */
interface OperatorPath {
    int[] NO_DESCRIPTOR = new int[0];

    /** Whether this path runs {@code op}. */
    boolean handles(Op op);

    /** The launches of {@code op} and their task-graph bytes, for the cut of the chain ({@link TaskGraphChain}). */
    TaskCost cost(Op op);

    /** Sizes {@code op}'s kernels read at run time from the buffer layout's descriptor array (none by default). */
    default int[] descriptor(Op op) {
        return NO_DESCRIPTOR;
    }

    /** Adds {@code op}'s tasks to the chain's current task graph. */
    void emit(Op op, Emission e);
}
