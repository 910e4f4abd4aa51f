package io.jdiffusion.tornado;

import io.jdiffusion.backend.graph.BufferPlan;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.DType;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;
import uk.ac.manchester.tornado.api.types.arrays.TornadoNativeArray;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Where every value of one graph lives on the device: the buffers of an executable and each value's element
 * offset in them. Every used F32 constant is packed into one weight array (uploaded once), integer constants into
 * another; the {@link BufferPlan} arena holds intermediates (in F16, {@link #halfArena}, where the executable
 * computes in F16; then {@link #arena} is a placeholder, and the other way round); one array each holds the float
 * inputs, integer inputs and outputs (the only per-run transfers), and one the steady float inputs (copied in only
 * when they change, {@link #steadyInputs}); {@link #shapes} holds the operators' descriptors (run-time sizes,
 * broadcast strides) and, last, a 0 that the chain's touch tasks read.
 *
 * <p>Offsets are aligned to {@value #ALIGN} elements (64 bytes of F32). Where the NVIDIA libraries read the arena, its
 * values are aligned on the device to an operand alignment of more bytes ({@link #planAlignment}): the plan's offsets
 * to a multiple of it, and the arena shifted by {@link #arenaShift} elements so that its first element, which
 * follows TornadoVM's array header, starts on such a boundary too. The arena and the outputs start every run as
 * NaN, so that an element no kernel writes shows up as NaN rather than as a plausible stale value.
 */
final class BufferLayout {
    static final int ALIGN = 16;

    private final Graph graph;
    private final BufferPlan plan;
    private final boolean halfActivations;
    private final int[] constantOffsets;
    private final int[] inputOffsets;
    private final int[] outputOffsets;
    private final Map<Op, Integer> descriptors = new IdentityHashMap<>();
    private final FloatArray weights;
    private final IntArray intConstants;
    private final IntArray shapes;
    private final FloatArray floatInputs;
    private final IntArray intInputs;
    /** The float inputs the graph declares steady ({@link Graph#isSteady}), or null where it has none. */
    private final FloatArray steadyInputs;
    /** Which inputs live in {@link #steadyInputs}. */
    private final boolean[] steady;
    /** Index of the 0 after the steady inputs, read by the task of the graph that uploads them. */
    private final int steadySentinel;
    private final FloatArray outputs;
    private final FloatArray arena;
    private final HalfFloatArray halfArena;
    /** Elements before the arena's first value (see {@link #arenaShift}). */
    private final int arenaShift;
    /** Index of a NaN in {@link #weights}, which the first task of a run copies over every output element. */
    private final int nanIndex;
    /** Index of a 0 in {@link #shapes}, read by the touch task of each chained task graph. */
    private final int sentinel;

    /**
     * @param f32Roots    storage roots of the constants the weight array must hold (those no path took elsewhere)
     * @param winograd    places its transformed weights after the constants
     * @param descriptor  each operator's descriptor (an empty array for none), from the path that runs it
     * @param deviceArrays makes the weight and integer-constant arrays (uploaded once; host pages handed back after)
     *                     and the device-only arenas
     */
    BufferLayout(Graph graph, BufferPlan plan, boolean halfActivations, int operandAlignment, Set<Integer> f32Roots,
                 WinogradConvolution winograd, Function<Op, int[]> descriptor, DeviceArrays deviceArrays) {
        this.graph = graph;
        this.arenaShift = arenaShift(operandAlignment, halfActivations ? Short.BYTES : Float.BYTES, TornadoNativeArray.ARRAY_HEADER);
        this.plan = plan;
        this.halfActivations = halfActivations;
        constantOffsets = new int[graph.values().size()];
        long floatCursor = 0;
        long intCursor = 0;
        List<Value> packed = new ArrayList<>();
        for (Value v : graph.constants()) {
            if (plan.binding(v) == null || plan.storageRoot(v) != v.id() || !f32Roots.contains(v.id())) {
                continue;
            }
            packed.add(v);
            if (v.dtype().isFloatingPoint()) {
                constantOffsets[v.id()] = toInt(floatCursor, "weights");
                floatCursor = align(floatCursor + v.shape().elementCount());
            } else {
                constantOffsets[v.id()] = toInt(intCursor, "integer constants");
                intCursor = align(intCursor + v.shape().elementCount());
            }
        }
        floatCursor = winograd.placeWeights(floatCursor);
        nanIndex = toInt(floatCursor, "weights");
        floatCursor = align(floatCursor + 1);
        weights = deviceArrays.floats(toInt(floatCursor, "weights"));
        weights.set(nanIndex, Float.NaN);
        intConstants = deviceArrays.ints(Math.max(1, toInt(intCursor, "integer constants")));
        for (Value v : packed) {
            if (v.dtype().isFloatingPoint()) {
                HostCopies.toFloats(v.constant(), weights, constantOffsets[v.id()]);
            } else {
                HostCopies.toInts(v.constant(), intConstants, constantOffsets[v.id()], v.toString());
            }
        }
        winograd.writeWeights(weights);

        inputOffsets = new int[graph.inputs().size()];
        steady = new boolean[inputOffsets.length];
        long fIn = 0;
        long iIn = 0;
        long sIn = 0;
        for (int i = 0; i < inputOffsets.length; i++) {
            Value v = graph.inputs().get(i);
            if (isInteger(v.dtype())) {
                inputOffsets[i] = toInt(iIn, "integer inputs");
                iIn = align(iIn + v.shape().elementCount());
            } else if (graph.isSteady(v)) {
                steady[i] = true;
                inputOffsets[i] = toInt(sIn, "steady inputs");
                sIn = align(sIn + v.shape().elementCount());
            } else {
                inputOffsets[i] = toInt(fIn, "inputs");
                fIn = align(fIn + v.shape().elementCount());
            }
        }
        floatInputs = new FloatArray(Math.max(1, toInt(fIn, "inputs")));
        intInputs = new IntArray(Math.max(1, toInt(iIn, "integer inputs")));
        // after the steady inputs, a 0 that the upload task reads
        steadySentinel = toInt(sIn, "steady inputs");
        steadyInputs = sIn == 0 ? null : new FloatArray(steadySentinel + 1);

        outputOffsets = new int[graph.outputs().size()];
        long out = 0;
        for (int i = 0; i < outputOffsets.length; i++) {
            outputOffsets[i] = toInt(out, "outputs");
            out = align(out + graph.outputs().get(i).shape().elementCount());
        }
        outputs = new FloatArray(Math.max(1, toInt(out, "outputs")));
        int arenaElements = Math.max(1, toInt(arenaShift + plan.arenaBytes() / Float.BYTES, "arena"));
        // The arena in use is poisoned: NaN in device memory at the start of every run, so that a read of an
        // element no kernel of the run wrote yet surfaces as a non-finite output, not as a plausible stale value.
        // Device-only: the host never holds a copy (at 1024x1024 the VAE's is 1.25 GiB). The outputs are poisoned
        // by a task at the start of every run too; TornadoVM does not upload an array that kernels only write.
        arena = deviceArrays.deviceOnlyFloats(halfActivations ? ALIGN : arenaElements, !halfActivations);
        halfArena = deviceArrays.deviceOnlyHalves(halfActivations ? arenaElements : ALIGN, halfActivations);
        outputs.init(Float.NaN);

        List<Integer> meta = new ArrayList<>();
        for (Op op : graph.ops()) {
            int[] fields = descriptor.apply(op);
            if (fields.length > 0) {
                descriptors.put(op, meta.size());
                for (int f : fields) {
                    meta.add(f);
                }
            }
        }
        sentinel = meta.size();
        meta.add(0);
        shapes = new IntArray(meta.size());
        for (int i = 0; i < meta.size(); i++) {
            shapes.set(i, meta.get(i));
        }
    }

    /** The buffer and element offset of a value. */
    Slot slot(Value v) {
        BufferPlan.Binding b = plan.binding(v);
        if (b == null) {
            throw new IllegalStateException(v + " has no storage in the buffer plan of " + graph.name());
        }
        return switch (b) {
            case INPUT -> {
                int i = plan.bindingIndex(v);
                Value in = graph.inputs().get(i);
                Object array = isInteger(in.dtype()) ? intInputs : steady[i] ? steadyInputs : floatInputs;
                yield new Slot(array, inputOffsets[i], v.toString(), false);
            }
            case OUTPUT -> new Slot(outputs, outputOffsets[plan.bindingIndex(v)], v.toString(), false);
            case CONSTANT -> {
                Value c = graph.values().get(plan.storageRoot(v));
                yield isInteger(c.dtype()) ? new Slot(intConstants, constantOffsets[c.id()], v.toString(), false)
                        : new Slot(weights, constantOffsets[c.id()], v.toString(), false);
            }
            case ARENA -> new Slot(arena, toInt(arenaShift + plan.arenaOffset(v) / Float.BYTES, "arena offset"), v.toString(),
                    halfActivations);
        };
    }

    /** Where {@code op}'s descriptor starts in {@link #shapes}; -1 where it has none. */
    int descriptorIndex(Op op) {
        return descriptors.getOrDefault(op, -1);
    }

    /** The buffers every task graph of a chain declares, in this order (see {@link TaskGraphChain}). */
    List<Object> buffers() {
        return List.of(weights, intConstants, shapes, arena, outputs, floatInputs, intInputs);
    }

    /** Bytes of the activation arena in the precision it is kept in. */
    long arenaBytes() {
        return halfActivations ? halfArena.getNumBytesOfSegment() : arena.getNumBytesOfSegment();
    }

    boolean halfActivations() {
        return halfActivations;
    }

    FloatArray weights() {
        return weights;
    }

    IntArray intConstants() {
        return intConstants;
    }

    IntArray shapes() {
        return shapes;
    }

    FloatArray floatInputs() {
        return floatInputs;
    }

    IntArray intInputs() {
        return intInputs;
    }

    /**
     * The float inputs declared steady, in a buffer of their own that one task graph uploads only when one of them
     * changed ({@link TaskGraphChain}), then the device keeps; null where the graph declares none.
     */
    FloatArray steadyInputs() {
        return steadyInputs;
    }

    /** Whether input {@code i} lives in {@link #steadyInputs()} (a steady float input). */
    boolean isSteady(int i) {
        return steady[i];
    }

    int steadySentinel() {
        return steadySentinel;
    }

    FloatArray outputs() {
        return outputs;
    }

    FloatArray arena() {
        return arena;
    }

    HalfFloatArray halfArena() {
        return halfArena;
    }

    int nanIndex() {
        return nanIndex;
    }

    int sentinel() {
        return sentinel;
    }

    int[] inputOffsets() {
        return inputOffsets;
    }

    int[] outputOffsets() {
        return outputOffsets;
    }

    static boolean isInteger(DType t) {
        return t == DType.I32 || t == DType.I64;
    }

    /**
     * The byte alignment of the buffer plan for an operand alignment of {@code operandBytes} (0: none beyond
     * {@link #ALIGN}). A value's element offset is its plan offset over 4 (the plan counts F32 bytes) and F16 values
     * take 2 bytes an element, so a plan aligned to twice the operand alignment aligns both forms.
     */
    static int planAlignment(int operandBytes) {
        return Math.max(ALIGN * Float.BYTES, 2 * operandBytes);
    }

    /**
     * Elements before the arena's first value so that it lies on an {@code operandBytes} boundary on the device,
     * given that a TornadoVM array's data starts {@code headerBytes} past an allocation aligned at least that much
     * (0 where no operand alignment is asked for or the header is not whole elements).
     */
    static int arenaShift(int operandBytes, int elementBytes, long headerBytes) {
        if (operandBytes == 0 || headerBytes % elementBytes != 0) {
            return 0;
        }
        return (int) ((operandBytes - headerBytes % operandBytes) % operandBytes / elementBytes);
    }

    static long align(long n) {
        return (n + ALIGN - 1) / ALIGN * ALIGN;
    }

    static int toInt(long n, String what) {
        if (n < 0 || n > Integer.MAX_VALUE - ALIGN) {
            throw new IllegalArgumentException("the tornado backend indexes with 32-bit ints; " + what + " of " + n
                    + " elements is too large");
        }
        return (int) n;
    }
}
