package io.jdiffusion.tornado;

import io.jdiffusion.core.Tensor;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

import java.util.Arrays;
import java.util.List;

/**
 * The steady inputs of one executable ({@link io.jdiffusion.backend.graph.GraphBuilder#steadyInput}: a denoising
 * loop's text conditioning), which the device keeps between runs. It remembers, per steady input, the contents stamp
 * ({@link TornadoDeviceTensor#contents()}) of the tensor it last copied into the steady buffer, and copies an input
 * again only when the tensor given differs from it: another tensor, or the same one written since (an upload or a
 * run's output). The executable then runs the task graph that uploads the buffer; otherwise it leaves it out, and
 * the device reads what it holds.
 */
final class SteadyInputs {
    /** No contents copied yet: stamps start at 1. */
    private static final long NONE = 0;

    private final FloatArray buffer;
    /** Graph input index of each steady input, and its element offset in {@link #buffer}. */
    private final int[] inputs;
    private final int[] offsets;
    /** The stamp of what the device holds, per steady input; {@link #NONE} before a copy or after a failed run. */
    private final long[] copied;

    SteadyInputs(BufferLayout layout, int inputCount) {
        this.buffer = layout.steadyInputs();
        this.inputs = java.util.stream.IntStream.range(0, inputCount).filter(layout::isSteady).toArray();
        this.offsets = Arrays.stream(inputs).map(i -> layout.inputOffsets()[i]).toArray();
        this.copied = new long[inputs.length];
    }

    /** Whether graph input {@code i} is one of these (copied by {@link #copyChanged}, not with the per-run inputs). */
    boolean holds(int input) {
        return Arrays.binarySearch(inputs, input) >= 0;
    }

    /**
     * Copies into the steady buffer every steady input whose contents the device does not hold yet.
     *
     * @param given the run's inputs, in graph order
     * @return whether any was copied: the buffer must then be uploaded in this run
     */
    boolean copyChanged(List<TornadoDeviceTensor> given) {
        boolean changed = false;
        for (int k = 0; k < inputs.length; k++) {
            TornadoDeviceTensor t = given.get(inputs[k]);
            long stamp = t.contents();
            if (stamp != copied[k]) {
                Tensor host = t.host();
                HostCopies.toFloats(host, buffer, offsets[k]);
                copied[k] = stamp;
                changed = true;
            }
        }
        return changed;
    }

    /** Forgets what the device holds (a run failed part way): the next run copies every steady input again. */
    void forget() {
        Arrays.fill(copied, NONE);
    }
}
