package io.jdiffusion.backend.graph;

import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Records a network call as a {@link Graph}. Each method checks its operands' shapes, appends one
 * {@link Op} and returns the symbolic result; nothing is computed. All results are F32 at the graph
 * level (a backend may store them in F16); constants may be F32, F16 or BF16.
 */
public final class GraphBuilder {
    private final String name;
    private final List<Value> values = new ArrayList<>();
    private final List<Op> ops = new ArrayList<>();
    private final List<Value> inputs = new ArrayList<>();
    private final List<Value> outputs = new ArrayList<>();
    private final List<Value> steadyInputs = new ArrayList<>();
    private final Map<Tensor, Value> constantsByTensor = new IdentityHashMap<>();
    private String scope = "";

    public GraphBuilder(String name) {
        this.name = name;
    }

    /** Prefix for the names of results recorded from now on (for error messages and traces). */
    public void scope(String scope) {
        this.scope = scope == null ? "" : scope;
    }

    public Value input(String name, Shape shape, DType dtype) {
        Value v = newValue(name, shape, dtype, Value.Kind.INPUT, null);
        inputs.add(v);
        return v;
    }

    /**
     * An input that callers usually pass unchanged to many consecutive runs, such as the text conditioning of a
     * denoising loop (the latents and the timestep change at every UNet call, the prompt's embeddings not).
     *
     * <p>It is a placement hint, never a promise: a run always reads the input it is given. A backend whose
     * inputs cross to a device (the TornadoVM backend) keeps a steady input's copy on the device and copies it
     * again only when the caller passes another tensor or wrote the tensor since (see {@link
     * io.jdiffusion.backend.DeviceTensor}: its contents change only by an upload or as a run's output, so the
     * backend sees every change). The graph has to say which inputs are steady, rather than the backend finding
     * out from the runs, because the backend lays out its device buffers, and the transfers between them, once
     * when it compiles the graph: the steady inputs go in a buffer of their own that the device keeps, the others
     * in the buffer copied in at every run.
     */
    public Value steadyInput(String name, Shape shape, DType dtype) {
        Value v = input(name, shape, dtype);
        steadyInputs.add(v);
        return v;
    }

    /** A constant backed by {@code data}; the same tensor given twice is one value. */
    public Value constant(String name, Tensor data) {
        Objects.requireNonNull(data, name);
        return constantsByTensor.computeIfAbsent(data,
                t -> newValue(name, t.shape(), t.dtype(), Value.Kind.CONSTANT, t));
    }

    public void output(Value v) {
        if (outputs.contains(v)) {
            throw new IllegalArgumentException(v + " is already an output");
        }
        if (v.kind() != Value.Kind.RESULT) {
            throw new IllegalArgumentException("only operator results can be outputs, not " + v);
        }
        outputs.add(v);
    }

    public Graph build() {
        if (outputs.isEmpty()) {
            throw new IllegalStateException("graph '" + name + "' has no outputs");
        }
        return new Graph(name, values, ops, inputs, outputs, steadyInputs);
    }

    // ---- operators ----------------------------------------------------------------------------------

    public Value conv2d(Value x, Value weight, Value bias, Value residual, int stride, Padding padding) {
        requireRank(x, 4, "conv2d input");
        requireRank(weight, 4, "conv2d weight");
        requireActivation(x);
        long n = x.shape().dim(0), cin = x.shape().dim(1), h = x.shape().dim(2), w = x.shape().dim(3);
        long cout = weight.shape().dim(0), kh = weight.shape().dim(2), kw = weight.shape().dim(3);
        check(weight.shape().dim(1) == cin, "conv2d weight %s does not take %d input channels of %s", weight, cin, x);
        check(stride >= 1, "conv2d stride %d", stride);
        long ho = (h + padding.top() + padding.bottom() - kh) / stride + 1;
        long wo = (w + padding.left() + padding.right() - kw) / stride + 1;
        check(ho >= 1 && wo >= 1, "conv2d of %s with kernel %dx%d leaves no output", x, kh, kw);
        requireVector(bias, cout, "conv2d bias");
        Shape outShape = Shape.of(n, cout, ho, wo);
        requireShape(residual, outShape, "conv2d residual");
        Value out = result(outShape);
        ops.add(new Op.Conv2d(x, weight, bias, residual, stride, padding, out));
        return out;
    }

    public Value linear(Value x, Value weight, Value bias, Activation activation, Value residual) {
        requireActivation(x);
        requireRank(weight, 2, "linear weight");
        long k = x.shape().dim(-1);
        long nOut = weight.shape().dim(0);
        check(weight.shape().dim(1) == k, "linear weight %s does not take last dimension %d of %s", weight, k, x);
        requireVector(bias, nOut, "linear bias");
        check(activation != Activation.GEGLU || nOut % 2 == 0, "GEGLU needs an even output size, got %d", nOut);
        Shape outShape = x.shape().withDim(-1, activation.outputLastDim(nOut));
        requireShape(residual, outShape, "linear residual");
        Value out = result(outShape);
        ops.add(new Op.Linear(x, weight, bias, activation, residual, out));
        return out;
    }

    public Value linear(Value x, Value weight, Value bias) {
        return linear(x, weight, bias, Activation.NONE, null);
    }

    public Value attention(Value q, Value k, Value v, int heads, float scale, boolean causal) {
        requireRank(q, 3, "attention q");
        requireRank(k, 3, "attention k");
        requireRank(v, 3, "attention v");
        requireActivation(q);
        requireActivation(k);
        requireActivation(v);
        long b = q.shape().dim(0);
        check(k.shape().dim(0) == b && v.shape().dim(0) == b, "attention batch differs: q %s k %s v %s", q, k, v);
        check(k.shape().dim(1) == v.shape().dim(1), "attention k %s and v %s have different key counts", k, v);
        check(k.shape().dim(2) == q.shape().dim(2), "attention q %s and k %s have different widths", q, k);
        check(heads >= 1 && q.shape().dim(2) % heads == 0 && v.shape().dim(2) % heads == 0,
                "attention width %s not divisible into %d heads", q.shape(), heads);
        check(!causal || q.shape().dim(1) == k.shape().dim(1), "causal attention needs as many queries as keys");
        Value out = result(Shape.of(b, q.shape().dim(1), v.shape().dim(2)));
        ops.add(new Op.Attention(q, k, v, heads, scale, causal, out));
        return out;
    }

    public Value groupNorm(Value x, Value gamma, Value beta, int groups, float eps, boolean silu) {
        requireActivation(x);
        check(x.shape().rank() >= 2, "group norm input %s needs [N, C, ...]", x);
        long c = x.shape().dim(1);
        check(groups >= 1 && c % groups == 0, "group norm: %d channels of %s not divisible into %d groups", c, x, groups);
        requireVector(gamma, c, "group norm gamma");
        requireVector(beta, c, "group norm beta");
        Value out = result(x.shape());
        ops.add(new Op.GroupNorm(x, gamma, beta, groups, eps, silu, out));
        return out;
    }

    public Value layerNorm(Value x, Value gamma, Value beta, float eps) {
        requireActivation(x);
        long c = x.shape().dim(-1);
        requireVector(gamma, c, "layer norm gamma");
        requireVector(beta, c, "layer norm beta");
        Value out = result(x.shape());
        ops.add(new Op.LayerNorm(x, gamma, beta, eps, out));
        return out;
    }

    public Value unary(Value x, Activation activation) {
        requireActivation(x);
        check(activation != Activation.NONE, "unary op needs an activation");
        check(activation != Activation.GEGLU || x.shape().dim(-1) % 2 == 0, "GEGLU of odd width %s", x);
        Value out = result(x.shape().withDim(-1, activation.outputLastDim(x.shape().dim(-1))));
        ops.add(new Op.Unary(x, activation, out));
        return out;
    }

    public Value binary(Value a, Value b, BinaryOp op) {
        requireActivationOrConstant(a);
        requireActivationOrConstant(b);
        Value out = result(Broadcast.shape(a.shape(), b.shape()));
        ops.add(new Op.Binary(a, b, op, out));
        return out;
    }

    public Value add(Value a, Value b) {
        return binary(a, b, BinaryOp.ADD);
    }

    public Value mul(Value a, Value b) {
        return binary(a, b, BinaryOp.MUL);
    }

    public Value upsample2x(Value x) {
        requireRank(x, 4, "upsample input");
        requireActivation(x);
        Shape s = x.shape();
        Value out = result(Shape.of(s.dim(0), s.dim(1), 2 * s.dim(2), 2 * s.dim(3)));
        ops.add(new Op.Upsample2x(x, out));
        return out;
    }

    public Value concat(int axis, Value... parts) {
        check(parts.length >= 1, "concat of nothing");
        Shape first = parts[0].shape();
        int ax = axis < 0 ? first.rank() + axis : axis;
        check(ax >= 0 && ax < first.rank(), "concat axis %d of rank %d", axis, first.rank());
        long total = 0;
        for (Value p : parts) {
            requireActivationOrConstant(p);
            check(p.shape().rank() == first.rank(), "concat of different ranks: %s", Arrays.toString(parts));
            for (int i = 0; i < first.rank(); i++) {
                check(i == ax || p.shape().dim(i) == first.dim(i), "concat along %d of mismatched %s", ax, Arrays.toString(parts));
            }
            total += p.shape().dim(ax);
        }
        Value out = result(first.withDim(ax, total));
        ops.add(new Op.Concat(List.of(parts), ax, out));
        return out;
    }

    public Value softmax(Value x) {
        requireActivation(x);
        Value out = result(x.shape());
        ops.add(new Op.Softmax(x, out));
        return out;
    }

    public Value embedding(Value ids, Value table) {
        check(ids.dtype() == DType.I32 || ids.dtype() == DType.I64, "embedding ids must be I32 or I64, got %s", ids);
        requireRank(table, 2, "embedding table");
        long[] dims = Arrays.copyOf(ids.shape().dims(), ids.shape().rank() + 1);
        dims[dims.length - 1] = table.shape().dim(1);
        Value out = result(Shape.of(dims));
        ops.add(new Op.Embedding(ids, table, out));
        return out;
    }

    public Value timestepEmbedding(Value t, int dim, boolean flipSinToCos, float downscaleFreqShift, float scale, float maxPeriod) {
        requireRank(t, 1, "timesteps");
        requireActivation(t);
        check(dim >= 2, "timestep embedding dim %d", dim);
        Value out = result(Shape.of(t.shape().dim(0), dim));
        ops.add(new Op.TimestepEmbedding(t, dim, flipSinToCos, downscaleFreqShift, scale, maxPeriod, out));
        return out;
    }

    public Value transpose(Value x) {
        requireRank(x, 3, "transpose input");
        requireActivation(x);
        Shape s = x.shape();
        Value out = result(Shape.of(s.dim(0), s.dim(2), s.dim(1)));
        ops.add(new Op.Transpose(x, out));
        return out;
    }

    public Value reshape(Value x, Shape shape) {
        check(shape.elementCount() == x.shape().elementCount(), "cannot reshape %s to %s", x, shape);
        requireActivation(x);
        Value out = result(shape);
        ops.add(new Op.Reshape(x, out));
        return out;
    }

    public Value reshape(Value x, long... dims) {
        return reshape(x, Shape.of(dims));
    }

    // ---- helpers ------------------------------------------------------------------------------------

    private Value result(Shape shape) {
        return newValue(scope, shape, DType.F32, Value.Kind.RESULT, null);
    }

    private Value newValue(String valueName, Shape shape, DType dtype, Value.Kind kind, Tensor constant) {
        Value v = new Value(values.size(), valueName, shape, dtype, kind, constant);
        values.add(v);
        return v;
    }

    private void requireActivation(Value v) {
        check(v.dtype() == DType.F32 || v.kind() == Value.Kind.CONSTANT,
                "%s: activations are F32 at the graph level", v);
    }

    private void requireActivationOrConstant(Value v) {
        requireActivation(v);
    }

    private static void requireRank(Value v, int rank, String what) {
        check(v.shape().rank() == rank, "%s %s must have rank %d", what, v, rank);
    }

    private static void requireVector(Value v, long length, String what) {
        if (v != null) {
            check(v.shape().rank() == 1 && v.shape().dim(0) == length, "%s %s must be [%d]", what, v, length);
        }
    }

    private static void requireShape(Value v, Shape shape, String what) {
        if (v != null) {
            check(v.shape().equals(shape), "%s %s must have shape %s", what, v, shape);
        }
    }

    private static void check(boolean ok, String format, Object... args) {
        if (!ok) {
            throw new IllegalArgumentException(String.format(format, args));
        }
    }
}
