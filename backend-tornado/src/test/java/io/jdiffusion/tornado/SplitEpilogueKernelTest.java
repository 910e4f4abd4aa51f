package io.jdiffusion.tornado;

import io.jdiffusion.core.Numerics;
import io.jdiffusion.tornado.kernels.KernelMath;
import io.jdiffusion.tornado.kernels.PointwiseKernels;
import io.jdiffusion.tornado.kernels.TensorCoreKernels;
import org.junit.jupiter.api.Test;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.exceptions.TornadoExecutionPlanException;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link TensorCoreKernels#splitEpilogue} alone, on any TornadoVM device (it uses no tensor cores, so PoCL runs it
 * too): partial tiles laid out as the split GEMM leaves them in its scratch, added up with bias, activation, GEGLU
 * and residual, against the same sums in double on the host. Output rows and columns that do not fill their tiles,
 * two images, and outputs poisoned with NaN before the kernel writes them.
 */
class SplitEpilogueKernelTest extends SingleKernelTest {
    private static final int TILE = TensorCoreKernels.TILE_FLOATS;

    @Test
    void aConvolutionOverTwoImagesAddsItsThreePartsBiasAndResidual() {
        // 150 output channels (two row blocks, the second partial), 70 pixels (one partial column block), 2 images
        check(TensorCoreKernels.MODE_CONV, KernelMath.ACT_NONE, 150, 70, 2, 2, 1, 3, true, true, 1);
    }

    @Test
    void aLinearAddsItsPartsThenActivatesThenAddsTheResidual() {
        check(TensorCoreKernels.MODE_LINEAR, KernelMath.ACT_SILU, 200, 130, 1, 2, 2, 4, true, true, 2);
    }

    @Test
    void aLinearWithoutBiasOrResidual() {
        check(TensorCoreKernels.MODE_LINEAR, KernelMath.ACT_NONE, 77, 300, 1, 1, 3, 2, false, false, 3);
    }

    /** The heads of an attention's batched product: image i writes columns [40 i, 40 i + 40) of rows 120 wide. */
    @Test
    void aBatchedLinearWritesEachImageIntoItsOwnColumnsOfWiderRows() {
        check(TensorCoreKernels.MODE_LINEAR, KernelMath.ACT_NONE, 150, 40, 3, 2, 1, 4, true, true, 5);
    }

    @Test
    void aGegluLinearGatesEachValueColumnWithTheColumnSixtyFourOn() {
        // n = 2 x 90 columns (values, then gates): two column blocks of 64 values, the second partial
        check(TensorCoreKernels.MODE_LINEAR, KernelMath.ACT_GEGLU, 40, 180, 1, 1, 2, 3, true, true, 4);
    }

    /**
     * One epilogue: {@code rows} x {@code cols} per image (cols counts the gates of a GEGLU), tile grid rowBlocks x
     * colBlocks x batch, {@code splits} parts of random partial sums. A Linear of several images lays them side by side
     * in each output row, as an attention's heads.
     */
    private void check(int mode, int act, int rows, int cols, int batch, int rowBlocks, int colBlocks, int splits, boolean bias,
                       boolean residual, long seed) {
        boolean geglu = act == KernelMath.ACT_GEGLU;
        int outCols = geglu ? cols / 2 : cols;
        int tiles = rowBlocks * colBlocks * batch;
        SplittableRandom random = new SplittableRandom(seed);
        FloatArray scratch = randomArray(splits * tiles * TILE, random);
        FloatArray b = randomArray(mode == TensorCoreKernels.MODE_CONV ? rows : cols, random);
        int outLength = batch * rows * outCols;
        FloatArray res = randomArray(outLength, random);
        FloatArray out = new FloatArray(outLength);
        out.init(0f);
        IntArray sizes = new IntArray(TensorCoreKernels.FIELDS);
        sizes.init(0);
        sizes.set(TensorCoreKernels.ROWS, rows);
        sizes.set(TensorCoreKernels.COLS, cols);
        sizes.set(TensorCoreKernels.ACT, act);
        sizes.set(TensorCoreKernels.ROW_BLOCKS, rowBlocks);
        sizes.set(TensorCoreKernels.COL_BLOCKS, colBlocks);
        sizes.set(TensorCoreKernels.BATCH, batch);
        sizes.set(TensorCoreKernels.SPLITS, splits);
        boolean sideBySide = mode == TensorCoreKernels.MODE_LINEAR && batch > 1;
        int ldo = sideBySide ? batch * outCols : outCols;
        sizes.set(TensorCoreKernels.OUT_STRIDE, ldo);
        sizes.set(TensorCoreKernels.OUT_IMAGE, sideBySide ? outCols : 0);
        FloatArray nan = new FloatArray(1);
        nan.init(Float.NaN);
        HalfFloatArray noHalves = new HalfFloatArray(1);

        TaskGraph g = new TaskGraph(graphName("splitEpilogue"));
        g.transferToDevice(DataTransferMode.EVERY_EXECUTION, nan, scratch, b, res, sizes, noHalves);
        g.task("poison", PointwiseKernels::fill, new KernelContext(), nan, 0, out, outLength);
        IntArray args = new IntArray(TensorCoreKernels.ARGS);
        args.set(TensorCoreKernels.ARG_BIAS, bias ? 0 : -1);
        args.set(TensorCoreKernels.ARG_RESIDUAL, residual ? 0 : -1);
        g.transferToDevice(DataTransferMode.EVERY_EXECUTION, args);
        g.task("t", TensorCoreKernels::splitEpilogue, new KernelContext(), noHalves, 0, b, res, out, scratch, sizes, args, mode);
        g.transferToHost(DataTransferMode.EVERY_EXECUTION, out);
        GridScheduler grids = new GridScheduler(g.getTaskGraphName() + ".t", grid(TensorCoreKernels.epilogueThreads(tiles), TensorCoreKernels.THREADS));
        int fillThreads = TaskGraphChain.tiles(outLength, PointwiseKernels.FILL_PER_THREAD);
        grids.addWorkerGrid(g.getTaskGraphName() + ".poison", grid(TaskGraphChain.tiles(fillThreads, THREADS) * THREADS, THREADS));
        try (TornadoExecutionPlan plan = new TornadoExecutionPlan(g.snapshot())) {
            plan.withGridScheduler(grids).withDevice(device()).execute();
        } catch (TornadoExecutionPlanException e) {
            throw new IllegalStateException(e);
        }

        double[] expected = new double[outLength];
        int perImage = rowBlocks * colBlocks;
        int tileCols = geglu ? TensorCoreKernels.GEGLU_COLUMNS : TensorCoreKernels.BLOCK_N;
        for (int image = 0; image < batch; image++) {
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < outCols; c++) {
                    int bx = r / TensorCoreKernels.BLOCK_M;
                    int by = c / tileCols;
                    int tile = (image * colBlocks + by) * rowBlocks + bx;
                    int at = tile * TILE + (r % TensorCoreKernels.BLOCK_M) * TensorCoreKernels.BLOCK_N + c % tileCols;
                    double v = sum(scratch, at, perImage * batch * TILE, splits);
                    if (geglu) {
                        double gate = sum(scratch, at + TensorCoreKernels.GEGLU_COLUMNS, perImage * batch * TILE, splits);
                        v = (v + (bias ? b.get(c) : 0)) * KernelMath.gelu((float) (gate + (bias ? b.get(outCols + c) : 0)));
                    } else {
                        v += bias ? b.get(mode == TensorCoreKernels.MODE_CONV ? r : c) : 0;
                        v = KernelMath.activate((float) v, act);
                    }
                    int idx = sideBySide ? r * ldo + image * outCols + c : image * rows * outCols + r * outCols + c;
                    expected[idx] = v + (residual ? res.get(idx) : 0);
                }
            }
        }
        float[] actual = out.toHeapArray();
        for (int i = 0; i < outLength; i++) {
            assertThat(actual[i]).as("output %d of %d written", i, outLength).isNotNaN();
        }
        assertThat(Numerics.relativeL2(actual, expected)).as("relative L2 error against the host's sums").isLessThan(1e-5);
    }

    private static double sum(FloatArray scratch, int at, int stride, int splits) {
        double s = 0;
        for (int p = 0; p < splits; p++) {
            s += scratch.get(at + p * stride);
        }
        return s;
    }

    private static FloatArray randomArray(int n, SplittableRandom random) {
        FloatArray a = new FloatArray(n);
        for (int i = 0; i < n; i++) {
            a.set(i, (float) random.nextDouble(-1, 1));
        }
        return a;
    }

    private static WorkerGrid1D grid(int threads, int local) {
        WorkerGrid1D grid = new WorkerGrid1D(threads);
        grid.setLocalWork(local, 1, 1);
        return grid;
    }
}
