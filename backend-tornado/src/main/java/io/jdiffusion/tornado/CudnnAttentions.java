package io.jdiffusion.tornado;

import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.tornado.kernels.LibraryStaging;
import io.jdiffusion.tornado.kernels.Storage;
import io.jdiffusion.tornado.nvidia.CudnnAttention;
import io.jdiffusion.tornado.nvidia.CudnnAttentionProvider;
import io.jdiffusion.tornado.nvidia.CudnnConvProvider;
import io.jdiffusion.tornado.nvidia.CudnnConvolution;
import io.jdiffusion.tornado.nvidia.SdpaShape;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;
import uk.ac.manchester.tornado.cudnn.CuDnn;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.function.BooleanSupplier;

/**
 * F16 attention on cuDNN's fused flash attention, on the CUDA backend with the NVIDIA libraries, one of two ways:
 * <ul>
 *   <li>in place ({@link TornadoSettings#cudnnAttentionGraph}, where Q, K, V and O all lie in the F16 arena and there
 *       is no mask): one task of {@link CudnnAttentionProvider} reading and writing the arena;</li>
 *   <li>staged: Q, K and V copied into [batch, heads, seq, d] F16 arrays, TornadoVM's binding
 *       ({@code CuDnn.sdpaForward}, which takes whole arrays in that order), O copied back.</li>
 * </ul>
 * Heads of one size for queries and values, a multiple of 8, at most {@link SdpaShape#MAX_HEAD}.
 */
final class CudnnAttentions {
    /** Whether this process's cuDNN has the operation the in-place attention runs (asked once, where one is wanted). */
    private final BooleanSupplier sdpaOperationAvailable;
    private Boolean inPlaceAvailable;
    private final Set<Op> inPlace = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Set<Op> staged = Collections.newSetFromMap(new IdentityHashMap<>());
    private long stagedQueries;
    private long stagedKeys;
    private HalfFloatArray queries;
    private HalfFloatArray keys;
    private HalfFloatArray values;
    private HalfFloatArray attended;

    /** On the CUDA backend: the in-place attention where the loaded cuDNN has its operation. */
    CudnnAttentions() {
        this(CudnnAttentionProvider::sdpaOperationAvailable);
    }

    /** {@code sdpaOperationAvailable}: whether cuDNN has the single SDPA operation (a test's stand-in for cuDNN). */
    CudnnAttentions(BooleanSupplier sdpaOperationAvailable) {
        this.sdpaOperationAvailable = sdpaOperationAvailable;
    }

    /** Whether cuDNN's fused attention takes {@code a}'s heads. */
    static boolean suits(Op.Attention a) {
        int d = a.headSize();
        return d == a.valueHeadSize() && d % 8 == 0 && d <= SdpaShape.MAX_HEAD;
    }

    /** Takes {@code a} (which {@link #suits}); {@code inHalfArena}: whether its four operands lie in the F16 arena. */
    void take(Op.Attention a, boolean inHalfArena) {
        if (TornadoSettings.cudnnAttentionGraph() && !a.causal() && inHalfArena && inPlaceAvailable()) {
            inPlace.add(a);
            return;
        }
        staged.add(a);
        stagedQueries = Math.max(stagedQueries, a.q().shape().elementCount());
        stagedKeys = Math.max(stagedKeys, a.k().shape().elementCount());
    }

    private boolean inPlaceAvailable() {
        if (inPlaceAvailable == null) {
            inPlaceAvailable = sdpaOperationAvailable.getAsBoolean();
        }
        return inPlaceAvailable;
    }

    boolean has(Op op) {
        return inPlace.contains(op) || staged.contains(op);
    }

    /** Whether a task needs the libraries' shared workspace. */
    boolean usesWorkspace() {
        return !inPlace.isEmpty();
    }

    /** In place: one library task on the F16 arena and the workspace; staged: three copies in, the binding, one out. */
    TaskCost cost(Op.Attention a) {
        return inPlace.contains(a) ? TaskCost.launch(2)
                : TaskCost.of(LibraryStaging.class, "headsToHalf").times(3).plus(TaskCost.of(CuDnn.class, "sdpaForward"))
                .plus(TaskCost.of(LibraryStaging.class, "headsFromHalf"));
    }

    /** The staging arrays, device-only, sized for the largest staged attention (none where none is staged). */
    void allocate(DeviceArrays arrays) {
        if (staged.isEmpty()) {
            return;
        }
        queries = arrays.deviceOnlyHalves((int) stagedQueries, false);
        attended = arrays.deviceOnlyHalves((int) stagedQueries, false);
        keys = arrays.deviceOnlyHalves((int) stagedKeys, false);
        values = arrays.deviceOnlyHalves((int) stagedKeys, false);
    }

    /** The staging arrays, which every task graph of a chained call must declare. */
    List<Object> buffers() {
        List<Object> all = new ArrayList<>();
        for (Object o : new Object[]{queries, keys, values, attended}) {
            if (o != null) {
                all.add(o);
            }
        }
        return all;
    }

    /** Emits {@code a}'s tasks; {@code workspace} is the libraries' shared one, of {@code workspaceBytes} usable bytes. */
    void emit(Op.Attention a, Emission e, FloatArray workspace, long workspaceBytes) {
        if (inPlace.contains(a)) {
            inPlace(a, e, workspace, workspaceBytes);
        } else {
            staged(a, e);
        }
    }

    private static void inPlace(Op.Attention a, Emission e, FloatArray workspace, long workspaceBytes) {
        CudnnConvolution.Arguments args = new CudnnConvolution.Arguments();
        CudnnConvolution.Operand q = LibraryProducts.operand(args, e.slot(a.q()), false, e);
        CudnnConvolution.Operand k = LibraryProducts.operand(args, e.slot(a.k()), false, e);
        CudnnConvolution.Operand v = LibraryProducts.operand(args, e.slot(a.v()), false, e);
        CudnnConvolution.Operand o = LibraryProducts.operand(args, e.slot(a.out()), true, e);
        int ws = args.of(workspace, true);
        SdpaShape shape = new SdpaShape(a.batch(), a.heads(), a.queries(), a.keys(), a.headSize(), a.scale());
        CudnnAttention tuning = new CudnnAttention(shape, q, k, v, o, ws, workspaceBytes - CudnnConvProvider.WORKSPACE_ALIGNMENT);
        LibraryProducts.libraryTask(e.tasks(), e.nextTask(), tuning.descriptor(args));
    }

    private void staged(Op.Attention a, Emission e) {
        int batch = a.batch();
        int nq = a.queries();
        int nk = a.keys();
        int heads = a.heads();
        int d = a.headSize();
        stageHeads(a.q(), queries, nq, heads, d, e);
        stageHeads(a.k(), keys, nk, heads, d, e);
        stageHeads(a.v(), values, nk, heads, d, e);
        e.tasks().libraryTask(e.nextTask(), CuDnn::sdpaForward, queries, keys, values, attended, batch, heads, nq, nk, d, a.scale(),
                a.causal());
        Slot o = e.slot(a.out());
        int n = batch * nq * heads * d;
        String out = e.nextTask();
        e.tasks().task(out, LibraryStaging::headsFromHalf, e.ctx(), e.halfArena(), o.bit(Storage.OUT), e.args(o.offset(), n, nq, heads, d),
                attended, o.floats());
        e.pointwiseGrid(out, n);
    }

    private static void stageHeads(Value v, HalfFloatArray dst, int seq, int heads, int d, Emission e) {
        Slot s = e.slot(v);
        int n = (int) v.shape().elementCount();
        String id = e.nextTask();
        e.tasks().task(id, LibraryStaging::headsToHalf, e.ctx(), e.halfArena(), s.bit(Storage.X), e.args(s.offset(), n, seq, heads, d),
                s.floats(), dst);
        e.pointwiseGrid(id, n);
    }
}
