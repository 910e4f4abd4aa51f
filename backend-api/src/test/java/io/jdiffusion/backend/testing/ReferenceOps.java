package io.jdiffusion.backend.testing;

import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.Broadcast;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Evaluates a {@link Graph} in double precision with the plainest loops that define each operator, so
 * any backend can be checked on any graph. Slow by design; inputs and constants are widened to double,
 * nothing is rounded to float on the way except where the operator's definition itself rounds
 * (the timestep embedding's float32 argument, as diffusers computes it).
 */
public final class ReferenceOps {
    private ReferenceOps() {
    }

    /** The graph's outputs for host {@code inputs} (in {@link Graph#inputs()} order). */
    public static List<double[]> run(Graph graph, List<Tensor> inputs) {
        return run(graph, inputs, Set.of());
    }

    /**
     * As {@link #run(Graph, List)}, with the constant weights of linear layers and convolutions rounded to F16
     * (round to nearest even) first: the exact reference of a backend that stores those weights as F16 and
     * widens them as it computes, so that what is checked is its arithmetic, not F16's rounding error (which
     * cancellation in a short dot product can make as large as the result).
     */
    public static List<double[]> runWithF16Weights(Graph graph, List<Tensor> inputs) {
        Set<Value> weights = new HashSet<>();
        for (Op op : graph.ops()) {
            switch (op) {
                case Op.Linear l -> weights.add(l.weight());
                case Op.Conv2d c -> weights.add(c.weight());
                default -> {
                }
            }
        }
        return run(graph, inputs, weights);
    }

    private static List<double[]> run(Graph graph, List<Tensor> inputs, Set<Value> roundedToF16) {
        if (inputs.size() != graph.inputs().size()) {
            throw new IllegalArgumentException(graph.name() + " takes " + graph.inputs().size() + " inputs, got " + inputs.size());
        }
        double[][] values = new double[graph.values().size()][];
        for (int i = 0; i < inputs.size(); i++) {
            Value v = graph.inputs().get(i);
            if (!inputs.get(i).shape().equals(v.shape())) {
                throw new IllegalArgumentException("input " + v + " given shape " + inputs.get(i).shape());
            }
            values[v.id()] = widen(inputs.get(i));
        }
        for (Value v : graph.constants()) {
            double[] d = widen(v.constant());
            if (roundedToF16.contains(v)) {
                for (int i = 0; i < d.length; i++) {
                    d[i] = Float.float16ToFloat(Float.floatToFloat16((float) d[i]));
                }
            }
            values[v.id()] = d;
        }
        for (Op op : graph.ops()) {
            values[op.out().id()] = evaluate(op, values);
        }
        List<double[]> out = new ArrayList<>();
        for (Value v : graph.outputs()) {
            out.add(values[v.id()]);
        }
        return out;
    }

    static double[] widen(Tensor t) {
        double[] d = new double[Math.toIntExact(t.elementCount())];
        for (int i = 0; i < d.length; i++) {
            d[i] = t.dtype().isFloatingPoint() ? t.getFloat(i) : t.getLong(i);
        }
        return d;
    }

    private static double[] evaluate(Op op, double[][] v) {
        return switch (op) {
            case Op.Conv2d c -> conv2d(c, v);
            case Op.Linear l -> linear(l, v);
            case Op.Attention a -> attention(a, v);
            case Op.GroupNorm g -> groupNorm(g, v);
            case Op.LayerNorm l -> layerNorm(l, v);
            case Op.Unary u -> unary(u, v[u.x().id()]);
            case Op.Binary b -> binary(b, v);
            case Op.Upsample2x u -> upsample(u, v[u.x().id()]);
            case Op.Concat c -> concat(c, v);
            case Op.Softmax s -> softmax(v[s.x().id()], s.x().shape().size(-1));
            case Op.Embedding e -> embedding(e, v);
            case Op.TimestepEmbedding t -> timestepEmbedding(t, v[t.t().id()]);
            case Op.Transpose t -> transpose(t, v[t.x().id()]);
            case Op.Reshape r -> v[r.x().id()].clone();
        };
    }

    private static double[] get(double[][] v, Value value) {
        return value == null ? null : v[value.id()];
    }

    private static double[] conv2d(Op.Conv2d c, double[][] v) {
        double[] x = get(v, c.x()), w = get(v, c.weight()), bias = get(v, c.bias()), res = get(v, c.residual());
        Shape xs = c.x().shape(), os = c.out().shape();
        int n = xs.size(0), cin = xs.size(1), h = xs.size(2), wd = xs.size(3);
        int cout = os.size(1), ho = os.size(2), wo = os.size(3), kh = c.kernelH(), kw = c.kernelW();
        int s = c.stride(), top = c.padding().top(), left = c.padding().left();
        double[] out = new double[Math.toIntExact(os.elementCount())];
        for (int b = 0; b < n; b++) {
            for (int co = 0; co < cout; co++) {
                for (int oy = 0; oy < ho; oy++) {
                    for (int ox = 0; ox < wo; ox++) {
                        double acc = bias == null ? 0 : bias[co];
                        for (int ci = 0; ci < cin; ci++) {
                            for (int ky = 0; ky < kh; ky++) {
                                int iy = oy * s + ky - top;
                                if (iy < 0 || iy >= h) {
                                    continue;
                                }
                                for (int kx = 0; kx < kw; kx++) {
                                    int ix = ox * s + kx - left;
                                    if (ix >= 0 && ix < wd) {
                                        acc += w[((co * cin + ci) * kh + ky) * kw + kx] * x[((b * cin + ci) * h + iy) * wd + ix];
                                    }
                                }
                            }
                        }
                        int o = ((b * cout + co) * ho + oy) * wo + ox;
                        out[o] = acc + (res == null ? 0 : res[o]);
                    }
                }
            }
        }
        return out;
    }

    private static double[] linear(Op.Linear l, double[][] v) {
        double[] x = get(v, l.x()), w = get(v, l.weight()), bias = get(v, l.bias()), res = get(v, l.residual());
        int k = l.x().shape().size(-1);
        int n = l.weight().shape().size(0);
        int rows = Math.toIntExact(l.x().shape().elementCount() / k);
        double[] y = new double[rows * n];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < n; j++) {
                double acc = bias == null ? 0 : bias[j];
                for (int kk = 0; kk < k; kk++) {
                    acc += x[r * k + kk] * w[j * k + kk];
                }
                y[r * n + j] = acc;
            }
        }
        double[] out = l.activation() == Activation.GEGLU ? geglu(y, n / 2) : activate(l.activation(), y);
        if (res != null) {
            for (int i = 0; i < out.length; i++) {
                out[i] += res[i];
            }
        }
        return out;
    }

    private static double[] attention(Op.Attention a, double[][] v) {
        double[] q = get(v, a.q()), k = get(v, a.k()), val = get(v, a.v());
        int b = a.q().shape().size(0), nq = a.q().shape().size(1), nk = a.k().shape().size(1);
        int heads = a.heads(), d = a.q().shape().size(2) / heads, dv = a.v().shape().size(2) / heads;
        double[] out = new double[b * nq * heads * dv];
        double[] s = new double[nk];
        for (int bi = 0; bi < b; bi++) {
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < nq; i++) {
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < nk; j++) {
                        if (a.causal() && j > i) {
                            s[j] = Double.NEGATIVE_INFINITY;
                            continue;
                        }
                        double dot = 0;
                        for (int c = 0; c < d; c++) {
                            dot += q[((bi * nq + i) * heads + h) * d + c] * k[((bi * nk + j) * heads + h) * d + c];
                        }
                        s[j] = dot * a.scale();
                        max = Math.max(max, s[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < nk; j++) {
                        s[j] = Math.exp(s[j] - max);
                        sum += s[j];
                    }
                    for (int c = 0; c < dv; c++) {
                        double acc = 0;
                        for (int j = 0; j < nk; j++) {
                            acc += s[j] * val[((bi * nk + j) * heads + h) * dv + c];
                        }
                        out[((bi * nq + i) * heads + h) * dv + c] = acc / sum;
                    }
                }
            }
        }
        return out;
    }

    private static double[] groupNorm(Op.GroupNorm g, double[][] v) {
        double[] x = get(v, g.x()), gamma = get(v, g.gamma()), beta = get(v, g.beta());
        Shape s = g.x().shape();
        int n = s.size(0), c = s.size(1);
        int spatial = Math.toIntExact(s.countFrom(2));
        int per = c / g.groups();
        double[] out = new double[x.length];
        for (int b = 0; b < n; b++) {
            for (int grp = 0; grp < g.groups(); grp++) {
                int base = (b * c + grp * per) * spatial;
                int count = per * spatial;
                double[] ms = meanVar(x, base, count);
                double rstd = 1 / Math.sqrt(ms[1] + g.eps());
                for (int ch = 0; ch < per; ch++) {
                    int channel = grp * per + ch;
                    for (int i = 0; i < spatial; i++) {
                        int o = base + ch * spatial + i;
                        double y = (x[o] - ms[0]) * rstd * gamma[channel] + beta[channel];
                        out[o] = g.silu() ? silu(y) : y;
                    }
                }
            }
        }
        return out;
    }

    private static double[] layerNorm(Op.LayerNorm l, double[][] v) {
        double[] x = get(v, l.x()), gamma = get(v, l.gamma()), beta = get(v, l.beta());
        int width = l.x().shape().size(-1);
        double[] out = new double[x.length];
        for (int base = 0; base < x.length; base += width) {
            double[] ms = meanVar(x, base, width);
            double rstd = 1 / Math.sqrt(ms[1] + l.eps());
            for (int i = 0; i < width; i++) {
                out[base + i] = (x[base + i] - ms[0]) * rstd * gamma[i] + beta[i];
            }
        }
        return out;
    }

    /** Two-pass mean and biased variance. */
    private static double[] meanVar(double[] x, int base, int count) {
        double mean = 0;
        for (int i = 0; i < count; i++) {
            mean += x[base + i];
        }
        mean /= count;
        double var = 0;
        for (int i = 0; i < count; i++) {
            double d = x[base + i] - mean;
            var += d * d;
        }
        return new double[]{mean, var / count};
    }

    private static double[] unary(Op.Unary u, double[] x) {
        return u.activation() == Activation.GEGLU ? geglu(x, u.out().shape().size(-1)) : activate(u.activation(), x);
    }

    /** Rows of [h (width), gate (width)] to h * gelu(gate). */
    private static double[] geglu(double[] y, int width) {
        int rows = y.length / (2 * width);
        double[] out = new double[rows * width];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < width; c++) {
                out[r * width + c] = y[r * 2 * width + c] * gelu(y[r * 2 * width + width + c]);
            }
        }
        return out;
    }

    private static double[] activate(Activation act, double[] x) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = activation(act, x[i]);
        }
        return out;
    }

    /** One activation in double precision. */
    public static double activation(Activation act, double x) {
        return switch (act) {
            case NONE -> x;
            case SILU -> silu(x);
            case GELU -> gelu(x);
            case GELU_TANH -> 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
            case QUICK_GELU -> x / (1 + Math.exp(-1.702 * x));
            case GEGLU -> throw new IllegalArgumentException("GEGLU takes a pair of values");
        };
    }

    private static double silu(double x) {
        return x / (1 + Math.exp(-x));
    }

    private static double gelu(double x) {
        return 0.5 * x * (1 + erf(x / Math.sqrt(2)));
    }

    /**
     * erf in double: erf(x) = 2/sqrt(pi) e^(-x^2) sum_n 2^n x^(2n+1) / (1*3*...*(2n+1)), a series of
     * positive terms (no cancellation), converging for every x; |x| >= 6 gives +-1 to double precision.
     */
    public static double erf(double x) {
        double a = Math.abs(x);
        if (a >= 6) {
            return Math.signum(x);
        }
        double term = a, sum = a, a2 = 2 * a * a;
        for (int n = 1; n < 500 && term > 1e-17 * sum; n++) {
            term *= a2 / (2 * n + 1);
            sum += term;
        }
        double r = 2 / Math.sqrt(Math.PI) * Math.exp(-a * a) * sum;
        return x < 0 ? -r : r;
    }

    private static double[] binary(Op.Binary b, double[][] v) {
        double[] x = get(v, b.a()), y = get(v, b.b());
        Shape out = b.out().shape();
        long[] sa = Broadcast.strides(b.a().shape(), out), sb = Broadcast.strides(b.b().shape(), out);
        int rank = out.rank();
        double[] r = new double[Math.toIntExact(out.elementCount())];
        int[] coord = new int[rank];
        for (int i = 0; i < r.length; i++) {
            long ia = 0, ib = 0;
            for (int d = 0; d < rank; d++) {
                ia += coord[d] * sa[d];
                ib += coord[d] * sb[d];
            }
            double p = x[(int) ia], q = y[(int) ib];
            r[i] = switch (b.op()) {
                case ADD -> p + q;
                case SUB -> p - q;
                case MUL -> p * q;
            };
            for (int d = rank - 1; d >= 0; d--) {
                if (++coord[d] < out.dim(d)) {
                    break;
                }
                coord[d] = 0;
            }
        }
        return r;
    }

    private static double[] upsample(Op.Upsample2x u, double[] x) {
        Shape s = u.x().shape();
        int planes = s.size(0) * s.size(1), h = s.size(2), w = s.size(3);
        double[] out = new double[planes * 4 * h * w];
        for (int p = 0; p < planes; p++) {
            for (int y = 0; y < 2 * h; y++) {
                for (int xx = 0; xx < 2 * w; xx++) {
                    out[(p * 2 * h + y) * 2 * w + xx] = x[(p * h + y / 2) * w + xx / 2];
                }
            }
        }
        return out;
    }

    private static double[] concat(Op.Concat c, double[][] v) {
        Shape out = c.out().shape();
        int axis = c.axis();
        int outer = 1;
        for (int i = 0; i < axis; i++) {
            outer *= out.size(i);
        }
        int inner = Math.toIntExact(out.countFrom(axis + 1));
        double[] r = new double[Math.toIntExact(out.elementCount())];
        int pos = 0;
        for (int o = 0; o < outer; o++) {
            for (Value part : c.parts()) {
                int run = part.shape().size(axis) * inner;
                System.arraycopy(v[part.id()], o * run, r, pos, run);
                pos += run;
            }
        }
        return r;
    }

    private static double[] softmax(double[] x, int width) {
        double[] out = new double[x.length];
        for (int base = 0; base < x.length; base += width) {
            double max = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < width; i++) {
                max = Math.max(max, x[base + i]);
            }
            double sum = 0;
            for (int i = 0; i < width; i++) {
                out[base + i] = Math.exp(x[base + i] - max);
                sum += out[base + i];
            }
            for (int i = 0; i < width; i++) {
                out[base + i] /= sum;
            }
        }
        return out;
    }

    private static double[] embedding(Op.Embedding e, double[][] v) {
        double[] ids = get(v, e.ids()), table = get(v, e.table());
        int vocab = e.table().shape().size(0), width = e.table().shape().size(1);
        double[] out = new double[ids.length * width];
        for (int i = 0; i < ids.length; i++) {
            int id = (int) ids[i];
            if (id < 0 || id >= vocab) {
                throw new IllegalArgumentException("embedding id " + id + " outside [0, " + vocab + ")");
            }
            System.arraycopy(table, id * width, out, i * width, width);
        }
        return out;
    }

    /**
     * diffusers' get_timestep_embedding. Its frequencies and arguments are float32 in PyTorch and that
     * rounding is part of the result (it moves sin/cos by up to 3e-5 at t near 1000), so they are rounded
     * to float here too; sin and cos are then exact.
     */
    private static double[] timestepEmbedding(Op.TimestepEmbedding t, double[] ts) {
        int dim = t.dim(), half = dim / 2;
        double[] out = new double[ts.length * dim];
        float logPeriod = (float) -Math.log(t.maxPeriod());
        for (int b = 0; b < ts.length; b++) {
            for (int i = 0; i < half; i++) {
                float exponent = (logPeriod * i) / (half - t.downscaleFreqShift());
                float freq = (float) Math.exp(exponent);
                float arg = t.scale() * ((float) ts[b] * freq);
                double sin = Math.sin(arg), cos = Math.cos(arg);
                out[b * dim + i] = t.flipSinToCos() ? cos : sin;
                out[b * dim + half + i] = t.flipSinToCos() ? sin : cos;
            }
        }
        return out;
    }

    private static double[] transpose(Op.Transpose t, double[] x) {
        Shape s = t.x().shape();
        int b = s.size(0), m = s.size(1), n = s.size(2);
        double[] out = new double[x.length];
        for (int bi = 0; bi < b; bi++) {
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    out[(bi * n + j) * m + i] = x[(bi * m + i) * n + j];
                }
            }
        }
        return out;
    }
}
