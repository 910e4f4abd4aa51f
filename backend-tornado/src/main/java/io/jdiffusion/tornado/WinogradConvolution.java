package io.jdiffusion.tornado;

import io.jdiffusion.backend.WinogradF43;
import io.jdiffusion.backend.graph.BufferPlan;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.tornado.kernels.WinogradKernels;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid2D;
import uk.ac.manchester.tornado.api.WorkerGrid3D;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongUnaryOperator;
import java.util.stream.IntStream;

/**
 * The F32 convolutions of one graph that run as Winograd F(4x4, 3x3) on {@link WinogradKernels}: which ones,
 * their transformed weights U = G g G^T (computed here in double precision when the graph is compiled and
 * stored, rounded once to F32, in the executable's weight array, so they are uploaded once), the scratch
 * array for the transformed input V and the products M (sized for the largest of them, NaN until written),
 * and their three launches.
 *
 * <p>A convolution qualifies with a constant 3x3 weight and stride 1 (any zero padding). U takes 4x the
 * bytes of the 3x3 weight and the whole weight array is indexed with 32-bit ints, so qualifying layers are
 * taken, those with the most output tiles first (where Winograd saves the most work), while the weight
 * array stays within that range; the rest stay on the implicit-GEMM kernel. (The SD 1.5 UNet's 3x3 weights
 * alone, transformed, would fill it.) Off with {@code -Djdiffusion.tornado.winograd=false}, read when a graph
 * is compiled, so one JVM can compile both forms.
 */
final class WinogradConvolution implements OperatorPath {
    /** Kernel launches of one Winograd convolution: input transform, the 36 products, output transform. */
    static final int LAUNCHES = 3;
    /** Largest element index of a device array (what the graph compiler allows, less its alignment). */
    private static final long MAX_ELEMENTS = Integer.MAX_VALUE - 64;

    private final Graph graph;
    private final BufferPlan plan;
    /** The chosen convolutions in graph order, and where their U starts in the weight array. */
    private final List<Op.Conv2d> chosen = new ArrayList<>();
    private final Set<Op> chosenSet = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Map<Op, Integer> weightOffsets = new IdentityHashMap<>();
    /** The graph compiler's alignment of array offsets. */
    private final LongUnaryOperator align;
    /** V then M of one convolution at a time; null when no convolution runs as Winograd. */
    private final FloatArray scratch;

    /** Chooses the Winograd convolutions of {@code graph}; none when {@code enabled} is false. */
    WinogradConvolution(Graph graph, BufferPlan plan, boolean enabled, LongUnaryOperator align, DeviceArrays arrays) {
        this.graph = graph;
        this.plan = plan;
        this.align = align;
        List<Op.Conv2d> candidates = new ArrayList<>();
        for (Op op : graph.ops()) {
            if (enabled && op instanceof Op.Conv2d c && qualifies(c)) {
                candidates.add(c);
            }
        }
        candidates.sort(Comparator.comparingLong((Op.Conv2d c) -> tiles(c)).reversed());
        long used = constantFloats();
        long scratchFloats = 0;
        for (Op.Conv2d c : candidates) {
            long u = align.applyAsLong(transformedFloats(c));
            if (used + u <= MAX_ELEMENTS) {
                used += u;
                chosenSet.add(c);
                scratchFloats = Math.max(scratchFloats, scratchFloats(c));
            }
        }
        for (Op op : graph.ops()) {
            if (chosenSet.contains(op)) {
                chosen.add((Op.Conv2d) op);
            }
        }
        if (chosen.isEmpty()) {
            scratch = null;
        } else {
            scratch = arrays.deviceOnlyFloats((int) scratchFloats, true);
        }
    }

    private boolean qualifies(Op.Conv2d c) {
        Shape ws = c.weight().shape();
        return ws.size(2) == 3 && ws.size(3) == 3 && c.stride() == 1 && plan.binding(c.weight()) == BufferPlan.Binding.CONSTANT
                && scratchFloats(c) <= MAX_ELEMENTS;
    }

    /** Output tiles of all images: the products' N. */
    private static long tiles(Op.Conv2d c) {
        Shape os = c.out().shape();
        return (long) os.size(0) * ((os.size(2) + 3) / 4) * ((os.size(3) + 3) / 4);
    }

    private static long transformedFloats(Op.Conv2d c) {
        return (long) WinogradKernels.POINTS * c.out().shape().size(1) * c.x().shape().size(1);
    }

    /** V [36][cin][T] at 0, then M [36][cout][T] at {@link #productsOffset}. */
    private long scratchFloats(Op.Conv2d c) {
        return productsOffset(c) + WinogradKernels.POINTS * c.out().shape().size(1) * tiles(c);
    }

    private long productsOffset(Op.Conv2d c) {
        return align.applyAsLong(WinogradKernels.POINTS * c.x().shape().size(1) * tiles(c));
    }

    /** Floats of every floating-point constant the weight array could hold (an upper bound: some are not stored). */
    private long constantFloats() {
        long n = 0;
        for (Value v : graph.constants()) {
            if (plan.binding(v) != null && plan.storageRoot(v) == v.id() && v.dtype().isFloatingPoint()) {
                n += align.applyAsLong(v.shape().elementCount());
            }
        }
        return n;
    }

    boolean uses(Op op) {
        return chosenSet.contains(op);
    }

    /** The weight an operator reads only in transformed form, so the weight array need not hold it; else null. */
    Value replacedWeight(Op op) {
        return op instanceof Op.Conv2d c && uses(c) ? c.weight() : null;
    }

    /** The scratch array (every chained task graph declares it), or null when no convolution runs as Winograd. */
    FloatArray scratch() {
        return scratch;
    }

    /** Places every chosen convolution's U from {@code cursor} on in the weight array; returns the end. */
    long placeWeights(long cursor) {
        long at = cursor;
        for (Op.Conv2d c : chosen) {
            weightOffsets.put(c, (int) at);
            at = align.applyAsLong(at + transformedFloats(c));
        }
        return at;
    }

    /** Writes every chosen convolution's U at the offset {@link #placeWeights} gave it. */
    void writeWeights(FloatArray weights) {
        for (Op.Conv2d c : chosen) {
            Tensor w = graph.values().get(plan.storageRoot(c.weight())).constant();
            transformWeights(w, c.out().shape().size(1), c.x().shape().size(1), weights, weightOffsets.get(c));
        }
    }

    /**
     * U[xi][cout][cin] = (G g G^T)[i][j] with xi = 6 i + j for the weight g [cout, cin, 3, 3] (F32, F16 or
     * BF16), in double precision, stored as floats from {@code offset} of {@code dst}.
     */
    static void transformWeights(Tensor w, int cout, int cin, FloatArray dst, int offset) {
        int plane = cout * cin;
        // Output channels in parallel: a UNet's 3x3 layers hold hundreds of millions of weights.
        IntStream.range(0, cout).parallel().forEach(co -> {
            float[] g = new float[9];
            double[] u = new double[WinogradF43.POINTS];
            for (int ci = 0; ci < cin; ci++) {
                long base = ((long) co * cin + ci) * 9;
                for (int k = 0; k < 9; k++) {
                    g[k] = w.getFloat(base + k);
                }
                WinogradF43.transformKernel(g, 0, u);
                for (int xi = 0; xi < WinogradF43.POINTS; xi++) {
                    dst.set(offset + xi * plane + co * cin + ci, (float) u[xi]);
                }
            }
        });
    }

    /** The {@link WinogradKernels} descriptor of a chosen convolution, field by field. */
    int[] descriptor(Op.Conv2d c) {
        Shape xs = c.x().shape();
        Shape os = c.out().shape();
        int[] d = new int[WinogradKernels.FIELDS];
        d[WinogradKernels.CIN] = xs.size(1);
        d[WinogradKernels.COUT] = os.size(1);
        d[WinogradKernels.H] = xs.size(2);
        d[WinogradKernels.W] = xs.size(3);
        d[WinogradKernels.HO] = os.size(2);
        d[WinogradKernels.WO] = os.size(3);
        d[WinogradKernels.PAD_T] = c.padding().top();
        d[WinogradKernels.PAD_L] = c.padding().left();
        d[WinogradKernels.TILES_H] = (os.size(2) + 3) / 4;
        d[WinogradKernels.TILES_W] = (os.size(3) + 3) / 4;
        d[WinogradKernels.TILES] = (int) tiles(c);
        return d;
    }

    @Override
    public boolean handles(Op op) {
        return uses(op);
    }

    /** The {@value #LAUNCHES} launches. */
    @Override
    public TaskCost cost(Op op) {
        return TaskCost.of(WinogradKernels.class, "inputTransform", "gemm", "outputTransform");
    }

    @Override
    public int[] descriptor(Op op) {
        return descriptor((Op.Conv2d) op);
    }

    /** Adds the three tasks of a chosen convolution: input transform, the 36 products, output transform. */
    @Override
    public void emit(Op op, Emission e) {
        Op.Conv2d c = (Op.Conv2d) op;
        int cin = c.x().shape().size(1);
        int cout = c.out().shape().size(1);
        int tiles = (int) tiles(c);
        int vOff = 0;
        int mOff = (int) productsOffset(c);
        Slot x = e.slot(c.x());
        Slot b = c.bias() == null ? null : e.slot(c.bias());
        Slot r = c.residual() == null ? null : e.slot(c.residual());
        Slot o = e.slot(c.out());
        FloatArray weights = e.layout().weights();
        IntArray shapes = e.shapes();
        int meta = e.descriptor(c);
        TaskGraph tasks = e.tasks();
        KernelContext ctx = e.ctx();
        int threadsX = (tiles + WinogradKernels.THREADS - 1) / WinogradKernels.THREADS * WinogradKernels.THREADS;

        String in = e.nextTask();
        tasks.task(in, WinogradKernels::inputTransform, ctx, e.args(x.offset(), vOff, meta), x.floats(), scratch, shapes);
        e.grid(in, new WorkerGrid2D(threadsX, cin), WinogradKernels.THREADS, 1, 1);

        String gemm = e.nextTask();
        tasks.task(gemm, WinogradKernels::gemm, ctx, e.args(weightOffsets.get(c), vOff, mOff, meta), weights, scratch, shapes);
        e.grid(gemm, new WorkerGrid3D((tiles + 63) / 64 * 16, (cout + 63) / 64 * 16, WinogradKernels.POINTS), 16, 16, 1);

        String outId = e.nextTask();
        tasks.task(outId, WinogradKernels::outputTransform, ctx, e.args(mOff, b == null ? -1 : b.offset(), r == null ? -1 : r.offset(), o.offset(),
                meta), scratch, b == null ? weights : b.floats(), r == null ? o.floats() : r.floats(), o.floats(), shapes);
        e.grid(outId, new WorkerGrid2D(threadsX, cout), WinogradKernels.THREADS, 1, 1);
    }
}
