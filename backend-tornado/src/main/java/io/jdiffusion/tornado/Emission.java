package io.jdiffusion.tornado;

import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Value;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/** What an {@link OperatorPath} adds tasks with: the operands' places in the buffers and the chain being filled. */
record Emission(BufferLayout layout, TaskGraphChain chain) {
    Slot slot(Value v) {
        return layout.slot(v);
    }

    TaskGraph tasks() {
        return chain.tasks();
    }

    KernelContext ctx() {
        return chain.ctx();
    }

    String nextTask() {
        return chain.nextTask();
    }

    void grid(String id, WorkerGrid g, int lx, int ly, int lz) {
        chain.grid(id, g, lx, ly, lz);
    }

    void pointwiseGrid(String id, int n) {
        chain.pointwiseGrid(id, n);
    }

    /**
     * The integer arguments of the task added next, as an array of its own that the task graph uploads on its
     * first run ({@link io.jdiffusion.tornado.kernels.Storage} says why they are not scalars).
     */
    IntArray args(int... values) {
        return chain.args(values);
    }

    /** The F16 activation arena (a placeholder where activations are F32), every kernel's {@code f16} argument. */
    HalfFloatArray halfArena() {
        return layout.halfArena();
    }

    /** The descriptor array, and where {@code op}'s descriptor starts in it. */
    IntArray shapes() {
        return layout.shapes();
    }

    int descriptor(Op op) {
        return layout.descriptorIndex(op);
    }
}
