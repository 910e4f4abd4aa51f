package io.jdiffusion.tornado;

import io.jdiffusion.tornado.kernels.PointwiseKernels;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.HalfFloat;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The poisoning fills ({@link PointwiseKernels#fill}, {@link PointwiseKernels#fillHalves}) over the grid the task
 * chain gives them, ceil(n / {@value PointwiseKernels#FILL_PER_THREAD}) threads rounded up to whole work-groups:
 * every element of an array that starts as zeros on the device ends NaN, for lengths that do not divide evenly.
 */
class FillKernelTest extends SingleKernelTest {
    @ParameterizedTest
    @ValueSource(ints = {1, 5, 1001, 70_003})
    void fillWritesEveryElement(int n) {
        FloatArray out = new FloatArray(n);
        out.init(0f);
        executeOverFillGrid("fill", n, out, (g, nan) -> g.task("t", PointwiseKernels::fill, new KernelContext(), nan, 0, out, n));
        float[] result = out.toHeapArray();
        for (int i = 0; i < n; i++) {
            assertThat(result[i]).as("element %d of %d", i, n).isNaN();
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 5, 1001, 70_003})
    void fillHalvesWritesEveryElement(int n) {
        assumeTrue(TornadoDevices.computesHalf(device()), "no F16 on this TornadoVM device");
        HalfFloatArray out = new HalfFloatArray(n);
        out.init(new HalfFloat(0f));
        executeOverFillGrid("fillHalves", n, out, (g, nan) -> g.task("t", PointwiseKernels::fillHalves, new KernelContext(), nan, 0, out, n));
        for (int i = 0; i < n; i++) {
            assertThat(out.get(i).getFloat32()).as("element %d of %d", i, n).isNaN();
        }
    }
}
