package io.jdiffusion.tornado;

import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.BufferPlan;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.tornado.kernels.KernelMath;
import io.jdiffusion.tornado.kernels.LibraryStaging;
import io.jdiffusion.tornado.kernels.Storage;
import io.jdiffusion.tornado.nvidia.ConvShape;
import io.jdiffusion.tornado.nvidia.CublasLtProvider;
import io.jdiffusion.tornado.nvidia.CudnnConvProvider;
import io.jdiffusion.tornado.nvidia.CudnnConvolution;
import io.jdiffusion.tornado.nvidia.LtMatmul;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.common.LibraryTaskDescriptor;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;
import uk.ac.manchester.tornado.api.types.arrays.TornadoNativeArray;
import uk.ac.manchester.tornado.cublas.CuBlas;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.ToLongFunction;

/**
 * Linear, Conv2d and attention through NVIDIA's libraries as TornadoVM library tasks, on the CUDA backend (the
 * only one whose stream the libraries can join). A Linear is one cuBLASLt product through jdiffusion's own provider
 * ({@link CublasLtProvider}), which reads x and writes the output at their offsets in the activation arena, with
 * the bias as cuBLASLt's bias epilogue and a residual as C (F16 operands and F32 accumulation in F16, F32 without
 * TF32 in F32); {@link LinearRoute} says what takes a detour. A 1x1 convolution is likewise one batched row-major
 * cuBLASLt product in place ({@link PointwiseConvolution}) where its operands allow. Another convolution is cuDNN's own convolution on its
 * (buffer, offset) operands ({@link io.jdiffusion.tornado.nvidia.CudnnConvProvider}; {@link ConvolutionRoute} says
 * which), else im2col then cuBLAS {@code GemmEx} or {@code Sgemm} through TornadoVM's binding; attention is cuDNN's
 * fused flash attention (F16), or, for heads wider than it takes, two cuBLASLt products around a softmax
 * ({@link WideHeadAttention}). TornadoVM's bindings get whole arrays, so their operands pass through shared staging
 * arrays ({@link LibraryStaging}). Each product has its own weight array (uploaded on the first run). Every launch
 * stays in the execution plan, so a call still runs on the device without host synchronisation.
 *
 * <p>Layouts, in cuBLAS's column-major terms: a linear's out [m, n] = x [m, k] w^T is the column-major product
 * w (n x k, stored as the transposed k x n) times x^T (k x m); an im2col convolution's [cout, batch*pixels] product
 * is col^T (stored [k, batch*pixels]) times w^T (stored [cout, k]).
 */
final class LibraryProducts implements OperatorPath {
    private static final int CUBLAS_OP_N = 0;
    private static final int CUBLAS_OP_T = 1;
    private static final int THREADS = 256;
    /** cuBLASLt's workspace: 32 MiB, what NVIDIA recommends for Hopper, plus room to start it on a 256-byte boundary. */
    static final int WORKSPACE_BYTES = (32 << 20) + LtMatmul.MAX_ALIGNMENT;

    /** F16 operands (GemmEx, cuDNN attention) or F32 (Sgemm, attention left to the Java kernels). */
    private final boolean half;
    /** Whether F16 convolutions run as cuDNN graph-API plans ({@link TornadoSettings#cudnnGraph}). */
    private final boolean cudnnGraph;
    /** Whether cuDNN's filters are stored KRSC ({@link TornadoSettings#cudnnFilterNhwc}; F16 and the graph API only). */
    private final boolean filterNhwc;
    private final String graphName;
    private final Graph graph;
    private final BufferPlan plan;
    /** How each Linear runs on cuBLASLt. */
    private final Map<Op, LinearRoute> routes = new IdentityHashMap<>();
    private final Function<Value, Tensor> constants;
    /** Each product's weight, [rows, k] as PyTorch stores it: a HalfFloatArray in F16, a FloatArray in F32. */
    private final Map<Op, TornadoNativeArray> weights = new IdentityHashMap<>();
    /** Attention on cuDNN's fused kernel, in place or staged. */
    private final CudnnAttentions attention = new CudnnAttentions();
    /** Attention with heads too wide for cuDNN, on cuBLASLt. */
    private final WideHeadAttention wideHeads = new WideHeadAttention();
    private long stagedInput;
    private long stagedProduct;
    private TornadoNativeArray input;
    /** The F32 im2col of a convolution computed in F16, before its rounding into {@link #input}. */
    private FloatArray columns;
    private long stagedColumns;
    private FloatArray product;
    /** Products whose output an epilogue kernel writes: a HalfFloatArray in F16, a FloatArray in F32. */
    private TornadoNativeArray scratch;
    private long scratchElements;
    /**
     * The workspace of cuBLASLt and cuDNN (one stream runs their calls one after another), a task parameter so that
     * TornadoVM allocates it before any CUDA-graph capture.
     */
    private FloatArray workspace;
    /** The 1x1 convolutions on one cuBLASLt product each ({@link PointwiseConvolution}). */
    private final Set<Op> pointwise = Collections.newSetFromMap(new IdentityHashMap<>());
    /** The convolutions on cuDNN, and each one's bias in the executable's precision (absent without bias). */
    private final Map<Op, ConvolutionRoute> cudnn = new IdentityHashMap<>();
    private final Map<Op, TornadoNativeArray> biases = new IdentityHashMap<>();
    /** Bytes of the cuDNN convolutions' workspace ({@link #workspaceFor}); the array is shared with cuBLASLt. */
    private long workspaceBytes;
    /**
     * F16 copies of the operands of cuDNN convolutions that lie outside the F16 arena ({@link ConvolutionRoute}):
     * x, residual, y; each array is sized for the largest such operand, absent where there is none.
     */
    private final long[] stagedConv = new long[3];
    private final HalfFloatArray[] convScratch = new HalfFloatArray[3];
    /**
     * Where the weight and bias arrays are made (uploaded once, then their host pages are handed back) and the
     * staging arrays and workspace (device-only).
     */
    private final DeviceArrays deviceArrays;

    /**
     * Only where {@link TornadoDevices#usesLibraries} (this class links against TornadoVM's cuBLAS and cuDNN
     * modules, which SDKs without the CUDA backend do not load).
     */
    LibraryProducts(boolean half, Graph graph, BufferPlan plan, Function<Value, Tensor> constants, DeviceArrays deviceArrays) {
        this.half = half;
        this.cudnnGraph = half && TornadoSettings.cudnnGraph();
        this.filterNhwc = half && TornadoSettings.cudnnFilterNhwc();
        this.deviceArrays = deviceArrays;
        this.graphName = graph.name();
        this.graph = graph;
        this.plan = plan;
        this.constants = constants;
    }

    /**
     * Takes a Linear or Conv2d whose weight of {@code shape} holds the constant {@code weight} (its storage,
     * same elements); false leaves it to the Java kernels.
     */
    boolean takeProduct(Op op, Shape shape, Tensor weight) {
        if (op instanceof Op.Linear l) {
            return takeLinear(l, shape, weight);
        }
        if (op instanceof Op.Conv2d c && takePointwise(c, weight)) {
            return true;
        }
        if (op instanceof Op.Conv2d c) {
            ConvolutionRoute route = ConvolutionRoute.of(c, half, plan::binding);
            if (route.onCudnn()) {
                weights.put(op, filterNhwc ? HostCopies.krscHalves(weight, deviceArrays) : inProductType(weight));
                if (c.bias() != null && !addsAfterCudnn(c, route)) {
                    Tensor bias = constants.apply(c.bias());
                    biases.put(op, inProductType(bias));
                }
                cudnn.put(op, route);
                workspaceBytes = Math.max(workspaceBytes, workspaceFor(route.shape()));
                boolean[] staged = {route.stageX(), route.stageResidual(), route.stageOut()};
                long[] sizes = {route.shape().xElements(), route.shape().yElements(), route.shape().yElements()};
                for (int i = 0; i < staged.length; i++) {
                    stagedConv[i] = staged[i] ? Math.max(stagedConv[i], sizes[i]) : stagedConv[i];
                }
                return true;
            }
        }
        long k = shape.countFrom(1);
        long rows = shape.dim(0);
        long m = op instanceof Op.Linear l ? l.x().shape().elementCount() / k : op.out().shape().elementCount() / rows;
        if (!fitsInt(k * m) || !fitsInt(rows * m) || !fitsInt(rows * k)) {
            return false;
        }
        weights.put(op, inProductType(weight));
        stagedInput = Math.max(stagedInput, k * m);
        if (half && op instanceof Op.Conv2d) {
            stagedColumns = Math.max(stagedColumns, k * m);
        }
        stagedProduct = Math.max(stagedProduct, rows * m);
        return true;
    }

    /**
     * Takes a 1x1 convolution for one cuBLASLt product ({@link PointwiseConvolution}) where every operand is stored
     * in the product's element type and the bias, if any, is a constant, unless {@link TornadoSettings#cudnnPointwise}.
     */
    private boolean takePointwise(Op.Conv2d c, Tensor weight) {
        if (TornadoSettings.cudnnPointwise() || !PointwiseConvolution.isPointwise(c) || !matches(c.x()) || !matches(c.out())
                || (c.residual() != null && !matches(c.residual()))
                || (c.bias() != null && plan.binding(c.bias()) != BufferPlan.Binding.CONSTANT)) {
            return false;
        }
        long weightElements = (long) c.out().shape().size(1) * c.x().shape().size(1);
        if (!fitsInt(c.x().shape().elementCount()) || !fitsInt(c.out().shape().elementCount()) || !fitsInt(weightElements)) {
            return false;
        }
        weights.put(c, inProductType(weight));
        pointwise.add(c);
        return true;
    }

    private boolean takeLinear(Op.Linear l, Shape shape, Tensor weight) {
        long k = shape.countFrom(1);
        long n = shape.dim(0);
        long m = l.x().shape().elementCount() / k;
        long stored = biasOffset(n * k) + n;
        if (!fitsInt(k * m) || !fitsInt(n * m) || !fitsInt(stored)) {
            return false;
        }
        LinearRoute route = LinearRoute.choose(matches(l.x()), matches(l.out()), l.activation() != Activation.NONE,
                operand(l.bias()), operand(l.residual()));
        routes.put(l, route);
        Tensor bias = l.bias() != null && plan.binding(l.bias()) == BufferPlan.Binding.CONSTANT ? constants.apply(l.bias()) : null;
        weights.put(l, linearWeight(weight, bias, (int) (n * k), (int) stored));
        if (route.stageInput()) {
            stagedInput = Math.max(stagedInput, k * m);
        }
        if (route.throughScratch()) {
            scratchElements = Math.max(scratchElements, n * m);
        }
        return true;
    }

    /** Whether {@code v} is stored in the element type of this executable's products (see {@link LinearRoute}). */
    private boolean matches(Value v) {
        return !half || plan.binding(v) == BufferPlan.Binding.ARENA;
    }

    private LinearRoute.Operand operand(Value v) {
        if (v == null) {
            return LinearRoute.Operand.NONE;
        }
        if (plan.binding(v) == BufferPlan.Binding.CONSTANT) {
            return LinearRoute.Operand.CONSTANT;
        }
        return matches(v) ? LinearRoute.Operand.MATCHING : LinearRoute.Operand.OTHER;
    }

    /**
     * Where a Linear's constant bias starts in its weight array: after the {@code weightElements} of the weight,
     * on the next 256-byte boundary (16-byte aligned on the device, past TornadoVM's 16-byte array header).
     */
    static long biasOffset(long weightElements) {
        return (weightElements + 127) / 128 * 128;
    }

    /**
     * Takes an attention when computing in F16: for cuDNN's fused kernel where its heads suit it (query and value
     * heads of one size, a multiple of 8, at most 256), else for {@link WideHeadAttention} where it suits that.
     */
    boolean takeAttention(Op.Attention a) {
        boolean inHalfArena = matches(a.q()) && matches(a.k()) && matches(a.v()) && matches(a.out());
        if (half && TornadoSettings.wideHeadAttention() && WideHeadAttention.suits(a, inHalfArena)) {
            wideHeads.take(a);
            return true;
        }
        if (!half || !CudnnAttentions.suits(a)) {
            return false;
        }
        attention.take(a, inHalfArena);
        return true;
    }

    @Override
    public boolean handles(Op op) {
        return weights.containsKey(op) || attention.has(op) || wideHeads.has(op);
    }

    /**
     * A product: stage in (two launches for an F16 convolution: im2col, then its rounding to F16), the library
     * call, stage out; attention: three operands staged, the library call, stage out.
     */
    @Override
    public TaskCost cost(Op op) {
        TaskCost gemm = half ? library(CuBlas.class, "cublasGemmExFP16FP32") : library(CuBlas.class, "cublasSgemm");
        return switch (op) {
            case Op.Linear l -> linearCost(l);
            case Op.Conv2d c when pointwise.contains(c) -> {
                List<Object> arrays = new ArrayList<>();
                pointwiseOperands(c, this::storageKey, v -> 0, arrays);
                TaskCost product = TaskCost.launch(arrays.size());
                yield c.bias() == null ? product : product.plus(TaskCost.of(LibraryStaging.class, "biasResidual"));
            }
            case Op.Conv2d c when cudnn.containsKey(c) -> cudnn.get(c).cost(TaskCost.of(LibraryStaging.class, "rowsHalf"),
                    TaskCost.of(LibraryStaging.class, "headsFromHalf")).plus(addsAfterCudnn(c, cudnn.get(c))
                    ? TaskCost.of(LibraryStaging.class, "biasResidual") : TaskCost.NONE);
            case Op.Conv2d c -> (half ? TaskCost.of(LibraryStaging.class, "im2col", "rowsHalf", "convEpilogue")
                    : TaskCost.of(LibraryStaging.class, "im2col", "convEpilogue")).plus(gemm);
            case Op.Attention a when wideHeads.has(a) -> WideHeadAttention.cost(a);
            case Op.Attention a -> attention.cost(a);
            default -> throw new IllegalStateException(op + " is not a library operator");
        };
    }

    /** How a Linear this path took runs (null for one it did not take). */
    LinearRoute route(Op.Linear l) {
        return routes.get(l);
    }

    /** Staging of x where it is needed, the cuBLASLt task (one parameter per distinct array), the epilogue kernel if any. */
    TaskCost linearCost(Op.Linear l) {
        LinearRoute route = routes.get(l);
        TaskCost cost = route.stageInput() ? TaskCost.of(LibraryStaging.class, "rowsHalf") : TaskCost.NONE;
        List<Object> arrays = new ArrayList<>();
        linearOperands(l, route, this::storageKey, v -> 0, "staged input", "scratch", arrays);
        cost = cost.plus(TaskCost.launch(arrays.size()));
        if (route.throughScratch()) {
            cost = cost.plus(TaskCost.of(LibraryStaging.class, half ? "linearEpilogueHalf" : "linearEpilogue"));
        }
        return cost;
    }

    /**
     * Which of the executable's buffers holds {@code v}, as a key that is equal exactly where two values share an
     * array (the buffer layout's rule: one arena, one array each for inputs, steady inputs, outputs, constants).
     */
    private Object storageKey(Value v) {
        BufferPlan.Binding b = plan.binding(v);
        if (b == BufferPlan.Binding.INPUT) {
            return graph.isSteady(graph.inputs().get(plan.bindingIndex(v))) ? "steady inputs" : "inputs";
        }
        return b;
    }

    /**
     * The cuBLASLt task of a Linear: its product record and, in {@code arrays}, its array parameters, each once:
     * the workspace, the weight (with the constant bias after it), x (or {@code stagedX}), the output (or
     * {@code scratch}), the residual and a non-constant bias where cuBLASLt adds them. {@code array} maps a value
     * to its array (a key of it when counting costs), {@code offset} to its element offset there.
     */
    private LtMatmul linearOperands(Op.Linear l, LinearRoute route, Function<Value, Object> array, ToLongFunction<Value> offset,
                                    Object stagedX, Object scratchArray, List<Object> arrays) {
        int k = l.x().shape().size(-1);
        int n = l.weight().shape().size(0);
        int m = (int) (l.x().shape().elementCount() / k);
        int ws = parameter(arrays, workspace == null ? "workspace" : workspace);
        int w = parameter(arrays, weights.get(l));
        int x = parameter(arrays, route.stageInput() ? stagedX : array.apply(l.x()));
        int d = parameter(arrays, route.throughScratch() ? scratchArray : array.apply(l.out()));
        boolean constantBias = l.bias() != null && plan.binding(l.bias()) == BufferPlan.Binding.CONSTANT;
        int c = route.residualInGemm(l.residual() != null) ? parameter(arrays, array.apply(l.residual())) : -1;
        int bias = route.biasInGemm() && !constantBias ? parameter(arrays, array.apply(l.bias())) : -1;
        LtMatmul.Operand biasOperand = null;
        if (route.biasInGemm()) {
            biasOperand = constantBias ? new LtMatmul.Operand(w, biasOffset((long) n * k)) : new LtMatmul.Operand(bias, offset.applyAsLong(l.bias()));
        }
        // out [m, n] = x [m, k] w^T is, column-major, the n x m product of w (stored k x n, transposed) and x^T (k x m).
        return new LtMatmul(half ? LtMatmul.ElementType.F16 : LtMatmul.ElementType.F32, n, m, k, true, false, k, k, n,
                new LtMatmul.Operand(w, 0), new LtMatmul.Operand(x, route.stageInput() ? 0 : offset.applyAsLong(l.x())),
                c < 0 ? null : new LtMatmul.Operand(c, offset.applyAsLong(l.residual())),
                new LtMatmul.Operand(d, route.throughScratch() ? 0 : offset.applyAsLong(l.out())), biasOperand, ws);
    }

    /**
     * The cuBLASLt task of a 1x1 convolution: its product record and, in {@code arrays}, its array parameters, each
     * once: the workspace, the weight, x, the output and the residual; {@code array} and {@code offset} as for
     * {@link #linearOperands}.
     */
    private LtMatmul pointwiseOperands(Op.Conv2d c, Function<Value, Object> array, ToLongFunction<Value> offset, List<Object> arrays) {
        int ws = parameter(arrays, workspace == null ? "workspace" : workspace);
        int w = parameter(arrays, weights.get(c));
        int x = parameter(arrays, array.apply(c.x()));
        int out = parameter(arrays, array.apply(c.out()));
        int residual = c.residual() == null ? -1 : parameter(arrays, array.apply(c.residual()));
        return PointwiseConvolution.product(c, half ? LtMatmul.ElementType.F16 : LtMatmul.ElementType.F32, ws, w, x, offset.applyAsLong(c.x()),
                out, offset.applyAsLong(c.out()), residual, residual < 0 ? 0 : offset.applyAsLong(c.residual()));
    }

    /**
     * The index of {@code array} among the task's parameters, added where it is not there yet (by identity: the
     * cost's keys are enum constants and string literals).
     */
    private static int parameter(List<Object> arrays, Object array) {
        for (int i = 0; i < arrays.size(); i++) {
            if (arrays.get(i) == array) {
                return i;
            }
        }
        arrays.add(array);
        return arrays.size() - 1;
    }

    /**
     * The cuDNN convolutions' workspace: four times the largest of their x and y, between 4 and 256 MiB, or x and y
     * together where that is more (at most 1 GiB), plus the filter. cuDNN's tensor-core implicit GEMMs run NHWC: on
     * NCHW operands they transpose x, the filter and y through the workspace at every call, so all three must fit,
     * else cuDNN's measurement can only pass to a slower algorithm. On an H100 the SIMT IMPLICIT_GEMM, which needs no
     * workspace, ran SD 1.5's 2560-to-1280 3x3 layers (a 59 MiB filter in F16) 15x slower, and at 1024x1024, where
     * the VAE's last layers have x and y of 256 MiB each, its decode took 264 ms against 220 ms with room for both
     * (docs/PERFORMANCE.md). The
     * transformed-domain algorithms (Winograd, FFT tiling) need a few times a tensor. An algorithm needing more than
     * the array holds is passed over ({@code AlgorithmChoice}), and IMPLICIT_GEMM needs none, so the size decides
     * speed, never correctness.
     */
    static long workspaceFor(ConvShape s) {
        long x = s.xElements() * s.elementBytes();
        long y = s.yElements() * s.elementBytes();
        long transposes = Math.min(x + y, 1L << 30);
        return Math.max(Math.clamp(4 * Math.max(x, y), 4L << 20, 256L << 20), transposes) + s.filterElements() * s.elementBytes();
    }

    /** A library task: its arguments are the library method's, without a kernel context. */
    private static TaskCost library(Class<?> library, String method) {
        return TaskCost.of(library, method);
    }

    /**
     * Allocates the staging arrays, device-only, once every operator was offered: the F32 ones and the scratch
     * poisoned at every run; the F16 staging, the convolutions' scratch and the libraries' workspace not (each is
     * written whole before it is read).
     */
    void allocate() {
        if (stagedInput > 0) {
            input = half ? deviceArrays.deviceOnlyHalves((int) stagedInput, false) : deviceArrays.deviceOnlyFloats((int) stagedInput, true);
        }
        if (stagedProduct > 0) {
            product = deviceArrays.deviceOnlyFloats((int) stagedProduct, true);
        }
        boolean lt = !(routes.isEmpty() && pointwise.isEmpty() && wideHeads.isEmpty()) || attention.usesWorkspace();
        long workspaceSize = Math.max(lt ? WORKSPACE_BYTES : 0,
                cudnn.isEmpty() ? 0 : workspaceBytes + CudnnConvProvider.WORKSPACE_ALIGNMENT);
        if (workspaceSize > 0) {
            workspace = deviceArrays.deviceOnlyFloats(toIntElements(workspaceSize / Float.BYTES), false);
        }
        for (int i = 0; i < stagedConv.length; i++) {
            convScratch[i] = stagedConv[i] == 0 ? null : deviceArrays.deviceOnlyHalves(toIntElements(stagedConv[i]), false);
        }
        if (scratchElements > 0) {
            scratch = half ? deviceArrays.deviceOnlyHalves((int) scratchElements, true) : deviceArrays.deviceOnlyFloats((int) scratchElements, true);
        }
        if (!weights.isEmpty()) {
            if (stagedColumns > 0) {
                columns = deviceArrays.deviceOnlyFloats((int) stagedColumns, true);
            }
        }
        wideHeads.allocate(deviceArrays);
        attention.allocate(deviceArrays);
    }

    /** The staging arrays, which every task graph of a chained call must declare. */
    List<Object> sharedBuffers() {
        List<Object> all = new ArrayList<>();
        for (Object o : new Object[]{input, columns, product, scratch, workspace, convScratch[0],
                convScratch[1], convScratch[2]}) {
            if (o != null) {
                all.add(o);
            }
        }
        all.addAll(attention.buffers());
        all.addAll(wideHeads.buffers());
        return all;
    }

    /** Device bytes of the products' own weight arrays (the staging arrays are among {@link #sharedBuffers}). */
    long weightBytes() {
        long bytes = 0;
        for (TornadoNativeArray w : weights.values()) {
            bytes += w.getNumBytesOfSegment();
        }
        for (TornadoNativeArray b : biases.values()) {
            bytes += b.getNumBytesOfSegment();
        }
        return bytes;
    }

    @Override
    public void emit(Op op, Emission e) {
        switch (op) {
            case Op.Linear l -> linear(l, e);
            case Op.Conv2d c -> conv2d(c, e);
            case Op.Attention a when wideHeads.has(a) -> wideHeads.emit(a, e, workspace);
            case Op.Attention a -> attention.emit(a, e, workspace, WORKSPACE_BYTES);
            default -> throw new IllegalStateException(op + " is not a library operator");
        }
    }

    /**
     * A Linear as one cuBLASLt product on the operands' own storage ({@link LinearRoute}): x rounded into the F16
     * staging array first where it is stored in F32 in an F16 executable, and an epilogue kernel after it where the
     * product goes to the scratch array.
     */
    private void linear(Op.Linear l, Emission e) {
        TaskGraph tasks = e.tasks();
        LinearRoute route = routes.get(l);
        int k = l.x().shape().size(-1);
        int n = l.weight().shape().size(0);
        int m = (int) (l.x().shape().elementCount() / k);
        if (route.stageInput()) {
            Slot x = e.slot(l.x());
            String stage = e.nextTask();
            tasks.task(stage, LibraryStaging::rowsHalf, e.ctx(), e.halfArena(), x.bit(Storage.X), e.args(x.offset(), m * k), x.floats(),
                    (HalfFloatArray) input);
            e.pointwiseGrid(stage, m * k);
        }
        tasks.transferToDevice(DataTransferMode.FIRST_EXECUTION, weights.get(l));
        List<Object> arrays = new ArrayList<>();
        LtMatmul product = linearOperands(l, route, v -> storage(e.slot(v), e), v -> e.slot(v).offset(), input, scratch, arrays);
        tasks.libraryTask(e.nextTask(), CublasLtProvider::matmul, product, arrays.toArray());
        if (route.throughScratch()) {
            Slot b = l.bias() == null || route.biasInGemm() ? null : e.slot(l.bias());
            Slot r = l.residual() == null ? null : e.slot(l.residual());
            Slot o = e.slot(l.out());
            int act = JavaKernelPath.activationCode(l.activation());
            int outputs = act == KernelMath.ACT_GEGLU ? m * (n / 2) : m * n;
            String out = e.nextTask();
            int halves = Slot.bit(b, Storage.Z) | Slot.bit(r, Storage.RESIDUAL) | o.bit(Storage.OUT);
            FloatArray placeholder = o.floats();
            FloatArray bias = b == null ? placeholder : b.floats();
            FloatArray res = r == null ? placeholder : r.floats();
            IntArray args = e.args(b == null ? -1 : b.offset(), r == null ? -1 : r.offset(), o.offset(), m, n);
            if (half) {
                tasks.task(out, LibraryStaging::linearEpilogueHalf, e.ctx(), e.halfArena(), halves, args, (HalfFloatArray) scratch, bias,
                        res, o.floats(), act);
            } else {
                tasks.task(out, LibraryStaging::linearEpilogue, e.ctx(), e.halfArena(), halves, args, (FloatArray) scratch, bias, res,
                        o.floats(), act);
            }
            e.pointwiseGrid(out, outputs);
        }
    }

    /** The array that really holds a value: the F16 arena for a value kept in F16, else its slot's array. */
    private static Object storage(Slot s, Emission e) {
        return s.half() ? e.halfArena() : s.array();
    }

    private void conv2d(Op.Conv2d c, Emission e) {
        if (pointwise.contains(c)) {
            e.tasks().transferToDevice(DataTransferMode.FIRST_EXECUTION, weights.get(c));
            List<Object> arrays = new ArrayList<>();
            LtMatmul product = pointwiseOperands(c, v -> storage(e.slot(v), e), v -> e.slot(v).offset(), arrays);
            e.tasks().libraryTask(e.nextTask(), CublasLtProvider::matmul, product, arrays.toArray());
            if (c.bias() != null) {
                addBiasResidual(c.bias(), null, c.out(), e);
            }
            return;
        }
        ConvolutionRoute route = cudnn.get(c);
        if (route != null) {
            cudnnConv(c, route, e);
            return;
        }
        TaskGraph tasks = e.tasks();
        Shape xs = c.x().shape();
        Shape os = c.out().shape();
        int cout = os.size(1);
        int pixels = os.size(2) * os.size(3);
        int cols = xs.size(0) * pixels;
        int k = (int) c.weight().shape().countFrom(1);
        int geom = JavaKernelPath.convGeometry(c, graphName);
        int pads = JavaKernelPath.convPadding(c, graphName);
        Slot x = e.slot(c.x());
        String stage = e.nextTask();
        FloatArray im2col = half ? columns : (FloatArray) input;
        tasks.task(stage, LibraryStaging::im2col, e.ctx(), e.halfArena(), x.bit(Storage.X),
                e.args(x.offset(), k * cols, cols, xs.size(1), xs.size(2), xs.size(3), os.size(3), pixels, geom, pads), x.floats(), im2col);
        e.pointwiseGrid(stage, k * cols);
        if (half) {
            String round = e.nextTask();
            tasks.task(round, LibraryStaging::rowsHalf, e.ctx(), e.halfArena(), 0, e.args(0, k * cols), columns, (HalfFloatArray) input);
            e.pointwiseGrid(round, k * cols);
        }
        gemm(c, CUBLAS_OP_N, CUBLAS_OP_N, cols, cout, k, input, cols, weights.get(c), k, cols, e);
        Slot b = c.bias() == null ? null : e.slot(c.bias());
        Slot r = c.residual() == null ? null : e.slot(c.residual());
        Slot o = e.slot(c.out());
        int n = cout * cols;
        String out = e.nextTask();
        int halves = Slot.bit(b, Storage.Z) | Slot.bit(r, Storage.RESIDUAL) | o.bit(Storage.OUT);
        tasks.task(out, LibraryStaging::convEpilogue, e.ctx(), e.halfArena(), halves,
                e.args(b == null ? -1 : b.offset(), r == null ? -1 : r.offset(), o.offset(), n, cout, pixels), product,
                b == null ? product : b.floats(), r == null ? product : r.floats(), o.floats());
        e.pointwiseGrid(out, n);
    }

    /**
     * out += bias (per channel) + residual in one in-place pass after a library call ({@code bias} or
     * {@code residual} null: not added).
     */
    private static void addBiasResidual(Value bias, Value residual, Value out, Emission e) {
        Slot b = bias == null ? null : e.slot(bias);
        Slot r = residual == null ? null : e.slot(residual);
        Slot o = e.slot(out);
        Shape os = out.shape();
        int n = toIntElements(os.elementCount());
        FloatArray placeholder = o.floats();
        String id = e.nextTask();
        e.tasks().task(id, LibraryStaging::biasResidual, e.ctx(), e.halfArena(),
                Slot.bit(b, Storage.Z) | Slot.bit(r, Storage.RESIDUAL) | o.bit(Storage.OUT),
                e.args(b == null ? -1 : b.offset(), r == null ? -1 : r.offset(), o.offset(), n, os.size(1), os.size(2) * os.size(3)),
                b == null ? placeholder : b.floats(), r == null ? placeholder : r.floats(), o.floats());
        e.pointwiseGrid(id, n);
    }

    /**
     * Whether a cuDNN convolution's bias and residual are added by one {@code biasResidual} pass after it, instead of
     * two cudnnAddTensor passes: both present, no operand staged, and the residual not y itself (which cuDNN adds
     * for free, accumulating with beta = 1).
     */
    private boolean addsAfterCudnn(Op.Conv2d c, ConvolutionRoute route) {
        if (c.bias() == null || c.residual() == null || route.stageX() || route.stageResidual() || route.stageOut()) {
            return false;
        }
        boolean arena = plan.binding(c.residual()) == BufferPlan.Binding.ARENA && plan.binding(c.out()) == BufferPlan.Binding.ARENA;
        return !(arena && plan.arenaOffset(c.residual()) == plan.arenaOffset(c.out()));
    }

    /**
     * One cuDNN convolution task: x, residual and y where they lie, the filter and bias in arrays of their own
     * (uploaded by the task graph that uses them, on its first run), the shared workspace; where
     * {@link #addsAfterCudnn}, the convolution alone, then one pass adding bias and residual.
     */
    private void cudnnConv(Op.Conv2d c, ConvolutionRoute route, Emission e) {
        boolean after = addsAfterCudnn(c, route);
        ConvShape shape = route.shape();
        CudnnConvolution.Arguments args = new CudnnConvolution.Arguments();
        CudnnConvolution.Operand x = route.stageX() ? toScratch(args, e.slot(c.x()), shape.xElements(), convScratch[0], e)
                : operand(args, e.slot(c.x()), false, e);
        CudnnConvolution.Operand r = null;
        if (c.residual() != null && !after) {
            r = route.stageResidual() ? toScratch(args, e.slot(c.residual()), shape.yElements(), convScratch[1], e)
                    : operand(args, e.slot(c.residual()), false, e);
        }
        CudnnConvolution.Operand y = route.stageOut() ? new CudnnConvolution.Operand(args.of(convScratch[2], true), 0)
                : operand(args, e.slot(c.out()), true, e);
        TornadoNativeArray filter = weights.get(c);
        TornadoNativeArray bias = biases.get(c);
        CudnnConvolution.Operand w = new CudnnConvolution.Operand(args.of(filter, false), 0);
        CudnnConvolution.Operand b = bias == null ? null : new CudnnConvolution.Operand(args.of(bias, false), 0);
        int ws = args.of(workspace, true);
        if (args.arrays().size() > route.arguments()) {
            throw new IllegalStateException(c + " takes " + args.arrays().size() + " arguments where its task cost counted " + route.arguments());
        }
        CudnnConvolution tuning = new CudnnConvolution(route.shape(), x, w, b, r, y, ws, workspaceBytes, TornadoSettings.cudnnFused(),
                cudnnGraph, filterNhwc);
        TaskGraph tasks = e.tasks();
        tasks.transferToDevice(DataTransferMode.FIRST_EXECUTION, bias == null ? new Object[]{filter} : new Object[]{filter, bias});
        libraryTask(tasks, e.nextTask(), tuning.descriptor(args));
        if (after) {
            addBiasResidual(c.bias(), c.residual(), c.out(), e);
        }
        if (route.stageOut()) {
            // F16 scratch to the F32 output: headsFromHalf with one head of width 1 is a plain copy
            Slot o = e.slot(c.out());
            int n = toIntElements(shape.yElements());
            String out = e.nextTask();
            tasks.task(out, LibraryStaging::headsFromHalf, e.ctx(), e.halfArena(), o.bit(Storage.OUT), e.args(o.offset(), n, n, 1, 1),
                    convScratch[2], o.floats());
            e.pointwiseGrid(out, n);
        }
    }

    /**
     * Copies an F32 operand of {@code n} elements to F16 into {@code scratch}, with a task before the
     * convolution's, and returns it as the operand there.
     */
    private static CudnnConvolution.Operand toScratch(CudnnConvolution.Arguments args, Slot s, long n, HalfFloatArray scratch, Emission e) {
        String id = e.nextTask();
        int count = toIntElements(n);
        e.tasks().task(id, LibraryStaging::rowsHalf, e.ctx(), e.halfArena(), s.bit(Storage.X), e.args(s.offset(), count), s.floats(),
                scratch);
        e.pointwiseGrid(id, count);
        return new CudnnConvolution.Operand(args.of(scratch, false), 0);
    }

    /** An activation operand: its array (the F16 arena for an F16 value) and offset. */
    static CudnnConvolution.Operand operand(CudnnConvolution.Arguments args, Slot s, boolean written, Emission e) {
        Object array = s.half() ? e.halfArena() : s.floats();
        return new CudnnConvolution.Operand(args.of(array, written), s.offset());
    }

    /** Adds a library task of jdiffusion's own, whose arguments are its descriptor's parameters. */
    static void libraryTask(TaskGraph tasks, String id, LibraryTaskDescriptor d) {
        Object[] p = d.getParameters();
        switch (p.length) {
            case 2 -> tasks.libraryTask(id, (a, b) -> d, p[0], p[1]);
            case 3 -> tasks.libraryTask(id, (a, b, c) -> d, p[0], p[1], p[2]);
            case 4 -> tasks.libraryTask(id, (a, b, c, f) -> d, p[0], p[1], p[2], p[3]);
            case 5 -> tasks.libraryTask(id, (a, b, c, f, g) -> d, p[0], p[1], p[2], p[3], p[4]);
            case 6 -> tasks.libraryTask(id, (a, b, c, f, g, h) -> d, p[0], p[1], p[2], p[3], p[4], p[5]);
            default -> throw new IllegalArgumentException("a library task of " + p.length + " arguments");
        }
    }

    /**
     * The column-major product {@link #product} (m x n, leading dimension ldc) = op(a) op(b) with F32
     * accumulation; the product's own weight array is uploaded by the task graph that uses it, on its first run.
     */
    private void gemm(Op op, int transA, int transB, int m, int n, int k, TornadoNativeArray a, int lda, TornadoNativeArray b,
                      int ldb, int ldc, Emission e) {
        TaskGraph tasks = e.tasks();
        tasks.transferToDevice(DataTransferMode.FIRST_EXECUTION, weights.get(op));
        String id = e.nextTask();
        if (half) {
            tasks.libraryTask(id, CuBlas::cublasGemmExFP16FP32, transA, transB, m, n, k, 1.0f, (HalfFloatArray) a, lda,
                    (HalfFloatArray) b, ldb, 0.0f, product, ldc);
        } else {
            tasks.libraryTask(id, CuBlas::cublasSgemm, transA, transB, m, n, k, 1.0f, (FloatArray) a, lda, (FloatArray) b, ldb,
                    0.0f, product, ldc);
        }
    }

    /** A constant's copy in the products' element type (F16 or F32), in an upload-once host array. */
    private TornadoNativeArray inProductType(Tensor constant) {
        if (half) {
            HalfFloatArray dst = deviceArrays.halves(toIntElements(constant.elementCount()));
            HostCopies.toHalves(constant, dst.getSegment(), 0);
            return dst;
        }
        FloatArray dst = deviceArrays.floats(toIntElements(constant.elementCount()));
        HostCopies.toFloats(constant, dst, 0);
        return dst;
    }

    /**
     * A Linear's weight [n, k] in the product's element type, then its constant bias (if any) at
     * {@link #biasOffset}: one array, uploaded on the first run.
     */
    private TornadoNativeArray linearWeight(Tensor weight, Tensor bias, int weightElements, int elements) {
        int at = (int) biasOffset(weightElements);
        int size = bias == null ? weightElements : elements;
        if (half) {
            HalfFloatArray dst = deviceArrays.halves(size);
            HostCopies.toHalves(weight, dst.getSegment(), 0);
            if (bias != null) {
                HostCopies.toHalves(bias, dst.getSegment(), at);
            }
            return dst;
        }
        FloatArray dst = deviceArrays.floats(size);
        HostCopies.toFloats(weight, dst, 0);
        if (bias != null) {
            HostCopies.toFloats(bias, dst, at);
        }
        return dst;
    }

    private static boolean fitsInt(long n) {
        return n > 0 && n < Integer.MAX_VALUE - 64;
    }

    private static int toIntElements(long n) {
        if (!fitsInt(n)) {
            throw new IllegalArgumentException("the tornado backend indexes with 32-bit ints; " + n + " elements is too many");
        }
        return (int) n;
    }
}
