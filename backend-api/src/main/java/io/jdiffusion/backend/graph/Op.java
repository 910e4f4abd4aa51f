package io.jdiffusion.backend.graph;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The operator set of the SPI: everything Stable Diffusion 1.x/2.x needs, with the fused forms
 * first-class so a backend can run each as one kernel. Tensors are row-major; images are NCHW and
 * token sequences [batch, tokens, channels]. Records are built and shape-checked by {@link GraphBuilder}.
 */
public sealed interface Op {
    /** The values this operator reads, in a fixed order (absent optional operands left out). */
    List<Value> inputs();

    /** The value this operator writes. */
    Value out();

    /**
     * 2-D convolution, groups 1: x [N, Cin, H, W], weight [Cout, Cin, kh, kw], optional bias [Cout] and
     * residual [N, Cout, Ho, Wo] added to the output (ResNet shortcuts).
     */
    record Conv2d(Value x, Value weight, Value bias, Value residual, int stride, Padding padding, Value out) implements Op {
        public int kernelH() {
            return weight.shape().size(2);
        }

        public int kernelW() {
            return weight.shape().size(3);
        }

        @Override
        public List<Value> inputs() {
            return present(x, weight, bias, residual);
        }
    }

    /**
     * y = act(x W^T + bias) + residual over the last dimension: x [..., K], weight [N, K] (PyTorch's layout),
     * bias [N]; the output's last dimension is N, or N/2 with {@link Activation#GEGLU}. The residual has the
     * output's shape.
     */
    record Linear(Value x, Value weight, Value bias, Activation activation, Value residual, Value out) implements Op {
        @Override
        public List<Value> inputs() {
            return present(x, weight, bias, residual);
        }
    }

    /**
     * Multi-head scaled dot-product attention, softmax(q k^T * scale [+ causal mask]) v, on packed heads:
     * q [B, Nq, heads*d], k and v [B, Nk, heads*d] (v may have another head size), out [B, Nq, heads*dv].
     * Head h uses channels [h*d, (h+1)*d). Causal masks key j > query i (CLIP).
     *
     * <p>In every precision the scores q k^T and the softmax are computed and accumulated in F32 (F16 operands
     * are widened): what diffusers does only with {@code upcast_attention} (SD 2.1), which needs F32 scores to
     * keep its large logits finite. A backend that cannot do so must refuse the graph, not round the scores.
     */
    record Attention(Value q, Value k, Value v, int heads, float scale, boolean causal, Value out) implements Op {
        @Override
        public List<Value> inputs() {
            return List.of(q, k, v);
        }

        /** Batch entries. */
        public int batch() {
            return q.shape().size(0);
        }

        /** Queries per batch entry. */
        public int queries() {
            return q.shape().size(1);
        }

        /** Keys (and values) per batch entry. */
        public int keys() {
            return k.shape().size(1);
        }

        /** Width of one query and key head. */
        public int headSize() {
            return q.shape().size(2) / heads;
        }

        /** Width of one value head. */
        public int valueHeadSize() {
            return v.shape().size(2) / heads;
        }
    }

    /** GroupNorm over x [N, C, *] with per-channel affine gamma/beta [C], optionally followed by SiLU. */
    record GroupNorm(Value x, Value gamma, Value beta, int groups, float eps, boolean silu, Value out) implements Op {
        @Override
        public List<Value> inputs() {
            return List.of(x, gamma, beta);
        }
    }

    /** LayerNorm over the last dimension with affine gamma/beta. */
    record LayerNorm(Value x, Value gamma, Value beta, float eps, Value out) implements Op {
        @Override
        public List<Value> inputs() {
            return List.of(x, gamma, beta);
        }
    }

    /** A standalone activation ({@link Activation#GEGLU} halves the last dimension). */
    record Unary(Value x, Activation activation, Value out) implements Op {
        @Override
        public List<Value> inputs() {
            return List.of(x);
        }
    }

    /** a (op) b with NumPy broadcasting; out has the broadcast shape. */
    record Binary(Value a, Value b, BinaryOp op, Value out) implements Op {
        @Override
        public List<Value> inputs() {
            return List.of(a, b);
        }
    }

    /** Nearest-neighbour 2x upsampling of x [N, C, H, W] to [N, C, 2H, 2W]. */
    record Upsample2x(Value x, Value out) implements Op {
        @Override
        public List<Value> inputs() {
            return List.of(x);
        }
    }

    /** Concatenation along {@code axis}. */
    record Concat(List<Value> parts, int axis, Value out) implements Op {
        public Concat {
            parts = List.copyOf(parts);
        }

        @Override
        public List<Value> inputs() {
            return parts;
        }
    }

    /** Softmax over the last dimension. */
    record Softmax(Value x, Value out) implements Op {
        @Override
        public List<Value> inputs() {
            return List.of(x);
        }
    }

    /** Row lookup: ids [...] (I32 or I64) into table [V, D] gives [..., D]. Out-of-range ids are an error. */
    record Embedding(Value ids, Value table, Value out) implements Op {
        @Override
        public List<Value> inputs() {
            return List.of(ids, table);
        }
    }

    /**
     * diffusers' {@code get_timestep_embedding}: t [B] (float) to [B, dim]. With half = dim/2,
     * freq_i = exp(-ln(maxPeriod) * i / (half - downscaleFreqShift)), arg = scale * t * freq_i, and the
     * halves are [sin, cos], or [cos, sin] when {@code flipSinToCos}. An odd dim is zero-padded at the end.
     */
    record TimestepEmbedding(Value t, int dim, boolean flipSinToCos, float downscaleFreqShift, float scale,
                             float maxPeriod, Value out) implements Op {
        @Override
        public List<Value> inputs() {
            return List.of(t);
        }
    }

    /** Swaps the last two dimensions of x [B, M, N] to [B, N, M] (NCHW feature maps to token sequences and back). */
    record Transpose(Value x, Value out) implements Op {
        @Override
        public List<Value> inputs() {
            return List.of(x);
        }
    }

    /** The same elements under another shape; backends alias the buffer and copy nothing. */
    record Reshape(Value x, Value out) implements Op {
        @Override
        public List<Value> inputs() {
            return List.of(x);
        }
    }

    private static List<Value> present(Value... values) {
        List<Value> list = new ArrayList<>(values.length);
        for (Value v : values) {
            if (v != null) {
                list.add(v);
            }
        }
        return Collections.unmodifiableList(list);
    }
}
