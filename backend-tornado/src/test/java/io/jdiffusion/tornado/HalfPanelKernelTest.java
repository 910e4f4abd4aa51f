package io.jdiffusion.tornado;

import io.jdiffusion.tornado.kernels.PointwiseKernels;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.types.HalfFloat;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@link PointwiseKernels#halfPanel} alone: the heads of keys or values ([tokens, heads x head] rows, one head's columns
 * each) copied into zero-padded F16 panels, transposed (K^T) or not (V), as the batched attention products read them.
 * The panels are poisoned with NaN first; every element must come back as its source rounded to F16 or as 0 in the
 * padding. Runs where the device computes F16 (PTX, the CUDA backend).
 */
class HalfPanelKernelTest extends SingleKernelTest {
    private static final int TOKENS = 37;
    private static final int HEAD = 40;
    private static final int HEADS = 3;
    /** Row stride of the source: every head's columns and 8 more (as when the operand is a slice of a wider row). */
    private static final int STRIDE = HEADS * HEAD + 8;
    private static final int OFFSET = 5;

    @ParameterizedTest(name = "transposed {0}")
    @ValueSource(booleans = {true, false})
    void everyHeadBecomesAZeroPaddedPanel(boolean transposed) {
        assumeTrue(TornadoDevices.computesHalf(device()), "no F16 on this TornadoVM device");
        // K^T: [head padded to 64][tokens padded to 128]; V: [tokens padded to 64][head padded to 128]
        int dstRows = 64;
        int dstCols = 128;
        int srcRows = TOKENS;
        int srcCols = HEAD;
        SplittableRandom random = new SplittableRandom(transposed ? 11 : 12);
        FloatArray src = new FloatArray(OFFSET + TOKENS * STRIDE);
        for (int i = 0; i < src.getSize(); i++) {
            src.set(i, (float) random.nextDouble(-4, 4));
        }
        int n = HEADS * dstRows * dstCols;
        HalfFloatArray dst = new HalfFloatArray(n);
        dst.init(new HalfFloat(0f));
        FloatArray nan = new FloatArray(1);
        nan.init(Float.NaN);
        HalfFloatArray noHalves = new HalfFloatArray(1);
        IntArray args = new IntArray(8);
        int[] a = {OFFSET, srcRows, srcCols, dstRows, dstCols, transposed ? 1 : 0, STRIDE, HEADS};
        for (int i = 0; i < a.length; i++) {
            args.set(i, a[i]);
        }
        TaskGraph g = new TaskGraph(graphName("halfPanel"));
        g.transferToDevice(DataTransferMode.EVERY_EXECUTION, nan, src, dst, args, noHalves);
        g.task("poison", PointwiseKernels::fillHalves, new KernelContext(), nan, 0, dst, n);
        g.task("t", PointwiseKernels::halfPanel, new KernelContext(), noHalves, 0, args, src, dst);
        g.transferToHost(DataTransferMode.EVERY_EXECUTION, dst);
        execute(g, TaskGraphChain.tiles(n, PointwiseKernels.FILL_PER_THREAD), n);

        for (int p = 0; p < HEADS; p++) {
            for (int r = 0; r < dstRows; r++) {
                for (int c = 0; c < dstCols; c++) {
                    int sr = transposed ? c : r;
                    int sc = transposed ? r : c;
                    float expected = sr < srcRows && sc < srcCols ? src.get(OFFSET + p * HEAD + sr * STRIDE + sc) : 0f;
                    float actual = dst.get((p * dstRows + r) * dstCols + c).getFloat32();
                    assertThat(actual).as("panel %d, row %d, column %d", p, r, c).isCloseTo(expected, within(Math.abs(expected) / 1024));
                }
            }
        }
    }
}
