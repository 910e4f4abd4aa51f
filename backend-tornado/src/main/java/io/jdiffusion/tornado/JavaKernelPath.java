package io.jdiffusion.tornado;

import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.Broadcast;
import io.jdiffusion.backend.graph.BufferPlan;
import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.Shape;
import io.jdiffusion.tornado.kernels.AttentionKernels;
import io.jdiffusion.tornado.kernels.GemmKernels;
import io.jdiffusion.tornado.kernels.KernelMath;
import io.jdiffusion.tornado.kernels.NormKernels;
import io.jdiffusion.tornado.kernels.PointwiseKernels;
import io.jdiffusion.tornado.kernels.Storage;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.WorkerGrid2D;
import uk.ac.manchester.tornado.api.WorkerGrid3D;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

import java.util.ArrayList;
import java.util.List;

import static io.jdiffusion.tornado.BufferLayout.toInt;
import static io.jdiffusion.tornado.TaskGraphChain.tiles;

/**
 * The Java kernels ({@code kernels} package), which run every operator on every TornadoVM device: the path of
 * whatever no other path took. Each operand is read and written as F32 or, in the F16 activation arena, as F16
 * ({@link Storage}); the kernels compute in F32.
 */
final class JavaKernelPath implements OperatorPath {
    private final String graphName;
    private final BufferPlan plan;
    private final List<TornadoExecutable.IdCheck> idChecks = new ArrayList<>();
    /**
     * F32 accumulator of {@link AttentionKernels#attentionLargeHead} (its own array: in F16 the output could not
     * hold the running sums of a 512-wide head over thousands of keys, and TornadoVM's scheduler hangs on a task
     * that writes one array through two arguments); null where no attention needs it.
     */
    private final FloatArray largeHeadSums;
    /**
     * Per-slice statistics of the GroupNorms that run split ({@link NormKernels#groupNormStats}): two floats a
     * slice, sized for the largest; null where no GroupNorm splits.
     */
    private final FloatArray groupPartials;
    /** Elements of a slice of a split GroupNorm ({@link TornadoSettings#groupNormSlice()}). */
    private final int groupNormSlice;

    /** The path for {@code ops}, the operators of graph {@code graphName} that no other path takes. */
    JavaKernelPath(String graphName, BufferPlan plan, List<Op> ops, DeviceArrays arrays) {
        this.graphName = graphName;
        this.plan = plan;
        this.groupNormSlice = TornadoSettings.groupNormSlice();
        long sums = 0;
        long partials = 0;
        for (Op op : ops) {
            if (op instanceof Op.Attention a && largeHead(a)) {
                sums = Math.max(sums, a.out().shape().elementCount());
            }
            if (op instanceof Op.GroupNorm g && NormKernels.splits(groupCount(g), groupNormSlice)) {
                partials = Math.max(partials, 2L * blocks(g) * NormKernels.slices(groupCount(g), groupNormSlice));
            }
        }
        groupPartials = partials > 0 ? arrays.deviceOnlyFloats(toInt(partials, "group norm partials"), true) : null;
        largeHeadSums = sums > 0 ? arrays.deviceOnlyFloats(toInt(sums, "attention accumulator"), true) : null;
    }

    /** Elements of one group of a GroupNorm: its channels per group times the spatial size. */
    private static long groupCount(Op.GroupNorm g) {
        Shape s = g.x().shape();
        return s.size(1) / g.groups() * s.countFrom(2);
    }

    /** Groups of a GroupNorm over the whole batch. */
    private static int blocks(Op.GroupNorm g) {
        return g.x().shape().size(0) * g.groups();
    }

    /** Every operator: this path is asked last. */
    @Override
    public boolean handles(Op op) {
        return true;
    }

    /** The accumulator of wide-head attention, or null. */
    FloatArray largeHeadSums() {
        return largeHeadSums;
    }

    /** The per-slice statistics of split GroupNorms, or null. */
    FloatArray groupPartials() {
        return groupPartials;
    }

    /** Integer inputs whose ids the executable checks before each run, found while emitting. */
    List<TornadoExecutable.IdCheck> idChecks() {
        return idChecks;
    }

    @Override
    public TaskCost cost(Op op) {
        return switch (op) {
            case Op.Reshape r -> TaskCost.NONE;
            case Op.Concat c -> TaskCost.of(PointwiseKernels.class, "concatPart").times(c.parts().size());
            case Op.Conv2d c -> TaskCost.of(GemmKernels.class, "conv2d");
            case Op.Linear l -> TaskCost.of(GemmKernels.class, "linear");
            case Op.Attention a -> TaskCost.of(AttentionKernels.class, largeHead(a) ? "attentionLargeHead" : "attention");
            case Op.GroupNorm g when NormKernels.splits(groupCount(g), groupNormSlice) -> TaskCost.of(NormKernels.class, "groupNormStats", "groupNormApply");
            case Op.GroupNorm g -> TaskCost.of(NormKernels.class, "groupNorm");
            case Op.LayerNorm l -> TaskCost.of(NormKernels.class, "layerNorm");
            case Op.Softmax s -> TaskCost.of(NormKernels.class, "softmax");
            case Op.Unary u -> TaskCost.of(PointwiseKernels.class, u.activation() == Activation.GEGLU ? "geglu" : "unary");
            case Op.Binary b -> TaskCost.of(PointwiseKernels.class, "binary");
            case Op.Upsample2x u -> TaskCost.of(PointwiseKernels.class, "upsample2x");
            case Op.Embedding e -> TaskCost.of(PointwiseKernels.class, "embedding");
            case Op.TimestepEmbedding t -> TaskCost.of(PointwiseKernels.class, "timestepEmbedding");
            case Op.Transpose t -> TaskCost.of(PointwiseKernels.class, "transpose");
        };
    }

    /** Broadcast strides of binary ops, a convolution's input channels, an attention's key count. */
    @Override
    public int[] descriptor(Op op) {
        return switch (op) {
            case Op.Binary b when !(b.a().shape().equals(b.out().shape()) && b.b().shape().equals(b.out().shape())) -> broadcast(b);
            case Op.Conv2d c -> new int[]{c.x().shape().size(1)};
            case Op.Attention a -> new int[]{a.keys()};
            default -> NO_DESCRIPTOR;
        };
    }

    private static int[] broadcast(Op.Binary b) {
        Shape o = b.out().shape();
        long[] sa = Broadcast.strides(b.a().shape(), o);
        long[] sb = Broadcast.strides(b.b().shape(), o);
        int[] d = new int[1 + 3 * o.rank()];
        int i = 0;
        d[i++] = o.rank();
        for (long dim : o.dims()) {
            d[i++] = toInt(dim, "broadcast dimension");
        }
        for (long s : sa) {
            d[i++] = toInt(s, "broadcast stride");
        }
        for (long s : sb) {
            d[i++] = toInt(s, "broadcast stride");
        }
        return d;
    }

    @Override
    public void emit(Op op, Emission e) {
        switch (op) {
            case Op.Conv2d c -> conv2d(c, e);
            case Op.Linear l -> linear(l, e);
            case Op.Attention a -> attention(a, e);
            case Op.GroupNorm g -> groupNorm(g, e);
            case Op.LayerNorm l -> layerNorm(l, e);
            case Op.Unary u -> unary(u, e);
            case Op.Binary b -> binary(b, e);
            case Op.Upsample2x u -> upsample(u, e);
            case Op.Concat c -> concat(c, e);
            case Op.Softmax s -> softmax(s, e);
            case Op.Embedding em -> embedding(em, e);
            case Op.TimestepEmbedding t -> timestep(t, e);
            case Op.Transpose t -> transpose(t, e);
            case Op.Reshape r -> {
                // Storage is shared through the buffer plan: nothing to launch.
            }
        }
    }

    /** Kernel height | width << 8 | stride << 16 of a convolution, as the GEMM kernels take it. */
    static int convGeometry(Op.Conv2d c, String graphName) {
        Shape ws = c.weight().shape();
        int kh = ws.size(2);
        int kw = ws.size(3);
        if (kh > 255 || kw > 255 || c.stride() > 255) {
            throw unsupported(c, graphName, "kernel or stride above 255");
        }
        return kh | (kw << 8) | (c.stride() << 16);
    }

    /** Top | left << 16 padding of a convolution. */
    static int convPadding(Op.Conv2d c, String graphName) {
        var p = c.padding();
        if (p.top() > 65535 || p.left() > 65535) {
            throw unsupported(c, graphName, "padding above 65535");
        }
        return p.top() | (p.left() << 16);
    }

    /** Height | width << 16 of an NCHW shape, as {@link GemmKernels#conv2d} takes them. */
    private int packHW(Op.Conv2d c, Shape s) {
        if (s.size(2) > 65535 || s.size(3) > 65535) {
            throw unsupported(c, graphName, "an image side above 65535");
        }
        return s.size(2) | s.size(3) << 16;
    }

    private void conv2d(Op.Conv2d c, Emission e) {
        Shape xs = c.x().shape();
        Shape os = c.out().shape();
        int geom = convGeometry(c, graphName);
        int pads = convPadding(c, graphName);
        Slot x = e.slot(c.x());
        Slot w = e.slot(c.weight());
        Slot b = c.bias() == null ? null : e.slot(c.bias());
        Slot r = c.residual() == null ? null : e.slot(c.residual());
        Slot o = e.slot(c.out());
        int cout = os.size(1);
        int pixels = os.size(2) * os.size(3);
        String id = e.nextTask();
        e.tasks().task(id, GemmKernels::conv2d, e.ctx(), e.halfArena(), productHalves(x, w, b, r, o),
                e.args(x.offset(), w.offset(), b == null ? -1 : b.offset(), r == null ? -1 : r.offset(), o.offset(), e.descriptor(c),
                        packHW(c, xs), cout, packHW(c, os), geom, pads),
                x.floats(), w.floats(), b == null ? w.floats() : b.floats(), r == null ? w.floats() : r.floats(), o.floats(), e.shapes());
        e.grid(id, new WorkerGrid3D(tiles(pixels, GemmKernels.TILE_N) * 16, tiles(cout, GemmKernels.TILE_M) * 16, xs.size(0)),
                16, 16, 1);
    }

    private void linear(Op.Linear l, Emission e) {
        int k = l.x().shape().size(-1);
        int n = l.weight().shape().size(0);
        int m = toInt(l.x().shape().elementCount() / k, "linear rows");
        Slot x = e.slot(l.x());
        Slot w = e.slot(l.weight());
        Slot b = l.bias() == null ? null : e.slot(l.bias());
        Slot r = l.residual() == null ? null : e.slot(l.residual());
        Slot o = e.slot(l.out());
        int act = activationCode(l.activation());
        String id = e.nextTask();
        e.tasks().task(id, GemmKernels::linear, e.ctx(), e.halfArena(), productHalves(x, w, b, r, o),
                e.args(x.offset(), w.offset(), b == null ? -1 : b.offset(), r == null ? -1 : r.offset(), o.offset(), m, n, k),
                x.floats(), w.floats(), b == null ? w.floats() : b.floats(), r == null ? w.floats() : r.floats(), o.floats(), act);
        int colGroups = act == KernelMath.ACT_GEGLU ? tiles(n / 2, GemmKernels.TILE_N / 2) : tiles(n, GemmKernels.TILE_N);
        e.grid(id, new WorkerGrid2D(colGroups * 16, tiles(m, GemmKernels.TILE_M) * 16), 16, 16, 1);
    }

    private void attention(Op.Attention a, Emission e) {
        int batch = a.batch();
        int nq = a.queries();
        int d = a.headSize();
        int dv = a.valueHeadSize();
        boolean large = largeHead(a);
        if (d > AttentionKernels.MAX_HEAD_LARGE || dv > AttentionKernels.MAX_HEAD_LARGE) {
            throw unsupported(a, graphName, "head size " + Math.max(d, dv) + " above " + AttentionKernels.MAX_HEAD_LARGE);
        }
        Slot q = e.slot(a.q());
        Slot k = e.slot(a.k());
        Slot v = e.slot(a.v());
        Slot o = e.slot(a.out());
        String id = e.nextTask();
        int halves = attentionHalves(q, k, v, o);
        if (large) {
            e.tasks().task(id, AttentionKernels::attentionLargeHead, e.ctx(), e.halfArena(), halves,
                    e.args(q.offset(), k.offset(), v.offset(), o.offset(), 0, nq, e.descriptor(a), a.heads(), d | dv << 16),
                    q.floats(), k.floats(), v.floats(), o.floats(), largeHeadSums, e.shapes(), a.scale(), a.causal() ? 1 : 0);
        } else {
            e.tasks().task(id, AttentionKernels::attention, e.ctx(), e.halfArena(), halves,
                    e.args(q.offset(), k.offset(), v.offset(), o.offset(), nq, e.descriptor(a), a.heads(), d, dv),
                    q.floats(), k.floats(), v.floats(), o.floats(), e.shapes(), a.scale(), a.causal() ? 1 : 0);
        }
        e.grid(id, new WorkerGrid2D(tiles(nq, AttentionKernels.QUERIES) * AttentionKernels.THREADS, batch * a.heads()),
                AttentionKernels.THREADS, 1, 1);
    }

    private void groupNorm(Op.GroupNorm g, Emission e) {
        Shape s = g.x().shape();
        int channels = s.size(1);
        int spatial = toInt(s.countFrom(2), "group norm spatial size");
        Slot x = e.slot(g.x());
        Slot gamma = e.slot(g.gamma());
        Slot beta = e.slot(g.beta());
        Slot o = e.slot(g.out());
        int halves = normHalves(x, gamma, beta, o);
        long count = groupCount(g);
        if (NormKernels.splits(count, groupNormSlice)) {
            int slices = NormKernels.slices(count, groupNormSlice);
            int workGroups = blocks(g) * slices;
            String stats = e.nextTask();
            e.tasks().task(stats, NormKernels::groupNormStats, e.ctx(), e.halfArena(), halves,
                    e.args(x.offset(), toInt(count, "group norm group size"), slices, groupNormSlice), x.floats(), groupPartials);
            e.grid(stats, new WorkerGrid1D(workGroups * NormKernels.THREADS), NormKernels.THREADS, 1, 1);
            String apply = e.nextTask();
            e.tasks().task(apply, NormKernels::groupNormApply, e.ctx(), e.halfArena(), halves,
                    e.args(x.offset(), gamma.offset(), beta.offset(), o.offset(), channels, spatial, g.groups(), slices, groupNormSlice), x.floats(),
                    groupPartials, gamma.floats(), beta.floats(), o.floats(), g.eps(), g.silu() ? 1 : 0);
            e.grid(apply, new WorkerGrid1D(workGroups * NormKernels.THREADS), NormKernels.THREADS, 1, 1);
            return;
        }
        String id = e.nextTask();
        e.tasks().task(id, NormKernels::groupNorm, e.ctx(), e.halfArena(), halves,
                e.args(x.offset(), gamma.offset(), beta.offset(), o.offset(), channels, spatial, g.groups()), x.floats(), gamma.floats(),
                beta.floats(), o.floats(), g.eps(), g.silu() ? 1 : 0);
        e.grid(id, new WorkerGrid1D(blocks(g) * NormKernels.GROUP_THREADS), NormKernels.GROUP_THREADS, 1, 1);
    }

    private void layerNorm(Op.LayerNorm l, Emission e) {
        int d = l.x().shape().size(-1);
        int rows = toInt(l.x().shape().elementCount() / d, "layer norm rows");
        Slot x = e.slot(l.x());
        Slot gamma = e.slot(l.gamma());
        Slot beta = e.slot(l.beta());
        Slot o = e.slot(l.out());
        String id = e.nextTask();
        e.tasks().task(id, NormKernels::layerNorm, e.ctx(), e.halfArena(), normHalves(x, gamma, beta, o),
                e.args(x.offset(), gamma.offset(), beta.offset(), o.offset(), d), x.floats(), gamma.floats(), beta.floats(), o.floats(),
                l.eps());
        e.grid(id, new WorkerGrid1D(rows * NormKernels.THREADS), NormKernels.THREADS, 1, 1);
    }

    private void softmax(Op.Softmax s, Emission e) {
        int d = s.x().shape().size(-1);
        int rows = toInt(s.x().shape().elementCount() / d, "softmax rows");
        Slot x = e.slot(s.x());
        Slot o = e.slot(s.out());
        String id = e.nextTask();
        e.tasks().task(id, NormKernels::softmax, e.ctx(), e.halfArena(), x.bit(Storage.X) | o.bit(Storage.OUT),
                e.args(x.offset(), o.offset(), d), x.floats(), o.floats(), 1.0f);
        e.grid(id, new WorkerGrid1D(rows * NormKernels.THREADS), NormKernels.THREADS, 1, 1);
    }

    private void unary(Op.Unary u, Emission e) {
        Slot x = e.slot(u.x());
        Slot o = e.slot(u.out());
        int n = toInt(u.out().shape().elementCount(), "elements");
        String id = e.nextTask();
        if (u.activation() == Activation.GEGLU) {
            e.tasks().task(id, PointwiseKernels::geglu, e.ctx(), e.halfArena(), x.bit(Storage.X) | o.bit(Storage.OUT),
                    e.args(x.offset(), o.offset(), n, u.out().shape().size(-1)), x.floats(), o.floats());
        } else {
            e.tasks().task(id, PointwiseKernels::unary, e.ctx(), e.halfArena(), x.bit(Storage.X) | o.bit(Storage.OUT),
                    e.args(x.offset(), o.offset(), n), x.floats(), o.floats(), activationCode(u.activation()));
        }
        e.pointwiseGrid(id, n);
    }

    private void binary(Op.Binary b, Emission e) {
        Slot a = e.slot(b.a());
        Slot c = e.slot(b.b());
        Slot o = e.slot(b.out());
        int n = toInt(b.out().shape().elementCount(), "elements");
        int op = switch (b.op()) {
            case ADD -> PointwiseKernels.OP_ADD;
            case SUB -> PointwiseKernels.OP_SUB;
            case MUL -> PointwiseKernels.OP_MUL;
        };
        String id = e.nextTask();
        e.tasks().task(id, PointwiseKernels::binary, e.ctx(), e.halfArena(), a.bit(Storage.X) | c.bit(Storage.Y) | o.bit(Storage.OUT),
                e.args(a.offset(), c.offset(), o.offset(), n, e.descriptor(b)), a.floats(), c.floats(), o.floats(), op, e.shapes());
        e.pointwiseGrid(id, n);
    }

    private void upsample(Op.Upsample2x u, Emission e) {
        Shape s = u.x().shape();
        Slot x = e.slot(u.x());
        Slot o = e.slot(u.out());
        int n = toInt(u.out().shape().elementCount(), "elements");
        String id = e.nextTask();
        e.tasks().task(id, PointwiseKernels::upsample2x, e.ctx(), e.halfArena(), x.bit(Storage.X) | o.bit(Storage.OUT),
                e.args(x.offset(), o.offset(), n, s.size(2), s.size(3)), x.floats(), o.floats());
        e.pointwiseGrid(id, n);
    }

    private void concat(Op.Concat c, Emission e) {
        Shape os = c.out().shape();
        int axis = c.axis();
        long outer = 1;
        for (int i = 0; i < axis; i++) {
            outer *= os.dim(i);
        }
        int inner = toInt(os.countFrom(axis + 1), "concat inner size");
        int total = os.size(axis);
        Slot o = e.slot(c.out());
        int at = 0;
        for (Value part : c.parts()) {
            int dp = part.shape().size(axis);
            int n = toInt(outer * dp * inner, "elements");
            Slot p = e.slot(part);
            String id = e.nextTask();
            e.tasks().task(id, PointwiseKernels::concatPart, e.ctx(), e.halfArena(), p.bit(Storage.X) | o.bit(Storage.OUT),
                    e.args(p.offset(), o.offset(), n, dp, inner, total, at), p.floats(), o.floats());
            e.pointwiseGrid(id, n);
            at += dp;
        }
    }

    private void embedding(Op.Embedding em, Emission e) {
        Slot ids = e.slot(em.ids());
        Slot table = e.slot(em.table());
        Slot o = e.slot(em.out());
        int vocab = em.table().shape().size(0);
        int d = em.table().shape().size(1);
        int n = toInt(em.out().shape().elementCount(), "elements");
        if (plan.binding(em.ids()) == BufferPlan.Binding.CONSTANT) {
            TornadoExecutable.IdCheck.check(em.ids().constant(), vocab, em.ids().toString());
        } else {
            idChecks.add(new TornadoExecutable.IdCheck(plan.bindingIndex(em.ids()), vocab, em.ids().toString()));
        }
        String id = e.nextTask();
        e.tasks().task(id, PointwiseKernels::embedding, e.ctx(), e.halfArena(), table.bit(Storage.Y) | o.bit(Storage.OUT),
                e.args(ids.offset(), table.offset(), o.offset(), n, d), ids.ints(), table.floats(), o.floats());
        e.pointwiseGrid(id, n);
    }

    private void timestep(Op.TimestepEmbedding t, Emission e) {
        Slot x = e.slot(t.t());
        Slot o = e.slot(t.out());
        int n = toInt(t.out().shape().elementCount(), "elements");
        String id = e.nextTask();
        e.tasks().task(id, PointwiseKernels::timestepEmbedding, e.ctx(), e.halfArena(), x.bit(Storage.X) | o.bit(Storage.OUT),
                e.args(x.offset(), o.offset(), n, t.dim()), x.floats(), o.floats(), t.flipSinToCos() ? 1 : 0, t.downscaleFreqShift(),
                t.scale(), (float) Math.log(t.maxPeriod()));
        e.pointwiseGrid(id, n);
    }

    private void transpose(Op.Transpose t, Emission e) {
        Shape s = t.x().shape();
        int m = s.size(1);
        int n = s.size(2);
        Slot x = e.slot(t.x());
        Slot o = e.slot(t.out());
        String id = e.nextTask();
        e.tasks().task(id, PointwiseKernels::transpose, e.ctx(), e.halfArena(), x.bit(Storage.X) | o.bit(Storage.OUT),
                e.args(x.offset(), o.offset(), m, n), x.floats(), o.floats());
        e.grid(id, new WorkerGrid3D(tiles(n, 32) * 32, tiles(m, 32) * 8, s.size(0)), 32, 8, 1);
    }

    /** {@link Storage} mask of a matrix product's operands (bias and residual optional). */
    static int productHalves(Slot x, Slot w, Slot bias, Slot residual, Slot out) {
        return x.bit(Storage.X) | w.bit(Storage.Y) | Slot.bit(bias, Storage.Z) | Slot.bit(residual, Storage.RESIDUAL)
                | out.bit(Storage.OUT);
    }

    static int attentionHalves(Slot q, Slot k, Slot v, Slot out) {
        return q.bit(Storage.X) | k.bit(Storage.Y) | v.bit(Storage.Z) | out.bit(Storage.OUT);
    }

    private static int normHalves(Slot x, Slot gamma, Slot beta, Slot out) {
        return x.bit(Storage.X) | gamma.bit(Storage.Y) | beta.bit(Storage.Z) | out.bit(Storage.OUT);
    }

    /** Whether an attention's heads are too wide for {@link AttentionKernels#attention}'s local memory. */
    static boolean largeHead(Op.Attention a) {
        int d = a.headSize();
        int dv = a.valueHeadSize();
        return d > AttentionKernels.MAX_HEAD || dv > AttentionKernels.MAX_HEAD;
    }

    static int activationCode(Activation a) {
        return switch (a) {
            case NONE -> KernelMath.ACT_NONE;
            case SILU -> KernelMath.ACT_SILU;
            case GELU -> KernelMath.ACT_GELU;
            case GELU_TANH -> KernelMath.ACT_GELU_TANH;
            case QUICK_GELU -> KernelMath.ACT_QUICK_GELU;
            case GEGLU -> KernelMath.ACT_GEGLU;
        };
    }

    static IllegalArgumentException unsupported(Op op, String graphName, String what) {
        return new IllegalArgumentException("tornado backend: " + op.getClass().getSimpleName() + " producing " + op.out()
                + " in graph '" + graphName + "': " + what + " is not supported");
    }
}
