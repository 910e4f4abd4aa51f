package io.jdiffusion.tornado;

import io.jdiffusion.tornado.nvidia.ConvShape;
import io.jdiffusion.tornado.nvidia.CudnnConvolution;
import org.junit.jupiter.api.Test;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;

import java.nio.BufferOverflowException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The task-graph bytes of a cuDNN convolution task as {@link TaskCost} counts them, checked against TornadoVM's
 * own 8 KiB buffer (host-side: the tasks are recorded, never run): a graph takes exactly as many such tasks as the
 * cost says fit, and TornadoVM refuses one more.
 */
class CudnnTaskBytesTest {
    @Test
    void tornadoVmHoldsAsManyConvolutionTasksAsTheCostSays() {
        for (boolean bias : new boolean[]{false, true}) {
            HalfFloatArray arena = new HalfFloatArray(64);
            HalfFloatArray filter = new HalfFloatArray(64);
            HalfFloatArray biases = new HalfFloatArray(8);
            FloatArray workspace = new FloatArray(16);
            CudnnConvolution.Arguments args = new CudnnConvolution.Arguments();
            CudnnConvolution.Operand x = new CudnnConvolution.Operand(args.of(arena, false), 0);
            CudnnConvolution.Operand y = new CudnnConvolution.Operand(args.of(arena, true), 32);
            CudnnConvolution.Operand w = new CudnnConvolution.Operand(args.of(filter, false), 0);
            CudnnConvolution.Operand b = bias ? new CudnnConvolution.Operand(args.of(biases, false), 0) : null;
            int ws = args.of(workspace, true);
            CudnnConvolution t = new CudnnConvolution(new ConvShape(1, 2, 4, 4, 2, 3, 3, 1, 1, 1, 1, true), x, w, b, null, y, ws, 64, true, false, false);
            int fit = TaskGraphChain.TASK_GRAPH_BYTES / TaskCost.launch(args.arrays().size()).bytes();
            TaskGraph full = new TaskGraph("cudnnbytes" + bias);
            for (int i = 0; i < fit; i++) {
                LibraryProducts.libraryTask(full, "c" + i, t.descriptor(args));
            }
            assertThatThrownBy(() -> LibraryProducts.libraryTask(full, "over", t.descriptor(args)))
                    .as("task %d of %d arguments", fit + 1, args.arrays().size()).isInstanceOf(BufferOverflowException.class);
            assertThat(fit).isPositive();
        }
    }
}
