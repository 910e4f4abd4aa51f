package io.jdiffusion.backend.testing;

import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.BinaryOp;
import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Padding;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

import java.util.ArrayList;
import java.util.List;

import static io.jdiffusion.backend.testing.ConformanceCase.direct;
import static io.jdiffusion.backend.testing.ConformanceCase.transformed;

/**
 * The operator cases of {@link OperatorConformanceSuite}: every operator and fused form of the SPI on
 * awkward sizes (not multiples of any vector width, 1x1 spatial, batch 1 and 2, heads of 40, 64 and 80
 * dims, F16/BF16 weights), plus small multi-operator graphs that exercise buffer reuse and aliasing.
 */
public final class ConformanceCases {
    private static final DType F32 = DType.F32;

    private ConformanceCases() {
    }

    public static List<ConformanceCase> all() {
        List<ConformanceCase> c = new ArrayList<>();
        linear(c);
        conv(c);
        attention(c);
        norms(c);
        pointwise(c);
        layout(c);
        graphs(c);
        return c;
    }

    private static void linear(List<ConformanceCase> c) {
        c.add(direct("linear 2x13x37 -> 29 +bias", b -> one(linear(b, F32, true, Activation.NONE, false, 29, 2, 13, 37))));
        c.add(direct("linear 1x1x5 -> 3 no bias", b -> one(linear(b, F32, false, Activation.NONE, false, 3, 1, 1, 5))));
        c.add(direct("linear 2x70x67 -> 45 silu +residual", b -> one(linear(b, F32, true, Activation.SILU, true, 45, 2, 70, 67))));
        c.add(direct("linear 1x33x40 -> 70 gelu", b -> one(linear(b, F32, true, Activation.GELU, false, 70, 1, 33, 40))));
        c.add(direct("linear 3x7x21 -> 19 gelu_tanh", b -> one(linear(b, F32, true, Activation.GELU_TANH, false, 19, 3, 7, 21))));
        c.add(direct("linear 2x9x32 -> 37 quick_gelu", b -> one(linear(b, F32, true, Activation.QUICK_GELU, false, 37, 2, 9, 32))));
        c.add(direct("linear 2x19x24 -> geglu 37 +residual", b -> one(linear(b, F32, true, Activation.GEGLU, true, 74, 2, 19, 24))));
        c.add(direct("linear 1x40x700 -> 33 (deep K)", b -> one(linear(b, F32, true, Activation.NONE, false, 33, 1, 40, 700))));
        c.add(direct("linear 1x300x2200 -> 40 +residual (deep K, several row blocks)",
                b -> one(linear(b, F32, true, Activation.GELU, true, 40, 1, 300, 2200))));
        c.add(direct("linear 1x130x80 -> 520 (many panels)", b -> one(linear(b, F32, true, Activation.NONE, false, 520, 1, 130, 80))));
        c.add(direct("linear 2x5x64 -> 48 f16 weights", b -> one(linear(b, DType.F16, true, Activation.NONE, true, 48, 2, 5, 64))));
        c.add(direct("linear 2x11x48 -> geglu 40 bf16 weights", b -> one(linear(b, DType.BF16, true, Activation.GEGLU, false, 80, 2, 11, 48))));
        c.add(direct("linear rank-2 input 17x23 -> 9", b -> one(linear(b, F32, true, Activation.NONE, false, 9, 17, 23))));
    }

    /** x [xDims] times a weight [n, k] of {@code wType}, optional bias and residual; public for backends' own larger cases. */
    public static Value linear(ProblemBuilder b, DType wType, boolean bias, Activation act, boolean residual, long n, long... xDims) {
        Value x = b.input("x", xDims);
        long k = xDims[xDims.length - 1];
        Value w = b.weight("w", wType, k, n, k);
        Value bv = bias ? b.constant("b", wType, 0, 0.3, n) : null;
        Value r = null;
        if (residual) {
            long[] rd = xDims.clone();
            rd[rd.length - 1] = act.outputLastDim(n);
            r = b.input("residual", rd);
        }
        return b.graph().linear(x, w, bv, act, r);
    }

    private static void conv(List<ConformanceCase> c) {
        c.add(transformed("conv3x3 s1 2x5x11x13 -> 7 +bias +residual", b -> one(conv(b, F32, 2, 5, 11, 13, 7, 3, 3, 1, Padding.same(1), true, true))));
        // One pixel: only the centre tap meets data. 24 channels into 12, because a relative error over a few
        // short sums (it was 6 into 4) is heavy-tailed: F16 Winograd filters drew up to 7e-3 in 3000 seeds.
        c.add(transformed("conv3x3 s1 1x1 spatial", b -> one(conv(b, F32, 1, 24, 1, 1, 12, 3, 3, 1, Padding.same(1), true, false))));
        c.add(transformed("conv3x3 s1 1x33x19x17 -> 20", b -> one(conv(b, F32, 1, 33, 19, 17, 20, 3, 3, 1, Padding.same(1), true, false))));
        c.add(transformed("conv3x3 s1 2x16x8x8 -> 32 f16 weights", b -> one(conv(b, DType.F16, 2, 16, 8, 8, 32, 3, 3, 1, Padding.same(1), true, true))));
        c.add(transformed("conv3x3 s1 2x3x9x150 -> 4 (long rows)", b -> one(conv(b, F32, 2, 3, 9, 150, 4, 3, 3, 1, Padding.same(1), true, true))));
        c.add(transformed("conv3x3 s1 pad 0 1x7x9x10 -> 5", b -> one(conv(b, F32, 1, 7, 9, 10, 5, 3, 3, 1, Padding.same(0), true, false))));
        // Small images with many output channels (deep GEMMs over few pixels, partial B panels of channels).
        c.add(transformed("conv3x3 s1 2x24x6x6 -> 40 +bias +residual", b -> one(conv(b, F32, 2, 24, 6, 6, 40, 3, 3, 1, Padding.same(1), true, true))));
        // Images smaller than a GEMM panel share panels (three, so the last panel is part padding).
        c.add(transformed("conv3x3 s1 3x8x4x4 -> 12 +bias +residual", b -> one(conv(b, F32, 3, 8, 4, 4, 12, 3, 3, 1, Padding.same(1), true, true))));
        c.add(direct("conv3x3 s2 p1 2x20x8x8 -> 36", b -> one(conv(b, F32, 2, 20, 8, 8, 36, 3, 3, 2, Padding.same(1), true, false))));
        c.add(direct("conv1x1 2x40x4x4 -> 72 +residual", b -> one(conv(b, F32, 2, 40, 4, 4, 72, 1, 1, 1, Padding.same(0), true, true))));
        c.add(direct("conv3x3 s2 p1 2x6x13x11 -> 5", b -> one(conv(b, F32, 2, 6, 13, 11, 5, 3, 3, 2, Padding.same(1), true, false))));
        c.add(direct("conv3x3 s2 pad(0,1,0,1) 1x4x12x10 -> 6", b -> one(conv(b, F32, 1, 4, 12, 10, 6, 3, 3, 2, new Padding(0, 1, 0, 1), true, false))));
        c.add(direct("conv1x1 2x19x7x9 -> 13 +residual", b -> one(conv(b, F32, 2, 19, 7, 9, 13, 1, 1, 1, Padding.same(0), true, true))));
        c.add(direct("conv1x1 2x17x1x1 -> 9", b -> one(conv(b, F32, 2, 17, 1, 1, 9, 1, 1, 1, Padding.same(0), false, false))));
        c.add(direct("conv4x4 s2 p1 1x3x9x9 -> 5", b -> one(conv(b, F32, 1, 3, 9, 9, 5, 4, 4, 2, Padding.same(1), true, false))));
        c.add(direct("conv1x3 pad(0,0,1,1) 2x4x5x6 -> 3 bf16", b -> one(conv(b, DType.BF16, 2, 4, 5, 6, 3, 1, 3, 1, new Padding(0, 0, 1, 1), true, false))));
    }

    /** A convolution of x [n, cin, h, w] by a weight [cout, cin, kh, kw] of {@code wType}; public like {@link #linear}. */
    public static Value conv(ProblemBuilder b, DType wType, long n, long cin, long h, long w, long cout, long kh, long kw,
                              int stride, Padding pad, boolean bias, boolean residual) {
        Value x = b.input("x", n, cin, h, w);
        Value wt = b.weight("w", wType, cin * kh * kw, cout, cin, kh, kw);
        Value bv = bias ? b.constant("b", wType, 0, 0.3, cout) : null;
        Value r = null;
        if (residual) {
            long ho = (h + pad.top() + pad.bottom() - kh) / stride + 1;
            long wo = (w + pad.left() + pad.right() - kw) / stride + 1;
            r = b.input("residual", n, cout, ho, wo);
        }
        return b.graph().conv2d(x, wt, bv, r, stride, pad);
    }

    private static void attention(List<ConformanceCase> c) {
        c.add(direct("attention self b2 n37 2 heads of 40", b -> one(attention(b, 2, 37, 37, 2, 40, 40, false))));
        c.add(direct("attention self b1 n50 1 head of 64", b -> one(attention(b, 1, 50, 50, 1, 64, 64, false))));
        c.add(direct("attention cross b2 33x77 2 heads of 80", b -> one(attention(b, 2, 33, 77, 2, 80, 80, false))));
        c.add(direct("attention causal b1 n77 4 heads of 40", b -> one(attention(b, 1, 77, 77, 4, 40, 40, true))));
        c.add(direct("attention causal b2 n19 3 heads of 64", b -> one(attention(b, 2, 19, 19, 3, 64, 64, true))));
        c.add(direct("attention value heads of 24, keys of 40", b -> one(attention(b, 1, 21, 30, 2, 40, 24, false))));
        c.add(direct("attention one query one key", b -> one(attention(b, 2, 1, 1, 1, 40, 40, false))));
        c.add(direct("attention 300 keys (several key tiles)", b -> one(attention(b, 1, 45, 300, 1, 40, 40, false))));
        c.add(direct("attention causal b1 n100 2 heads of 80 (several query blocks)", b -> one(attention(b, 1, 100, 100, 2, 80, 80, true))));
        c.add(direct("attention tiny heads of 8 (CLIP-tiny) causal", b -> one(attention(b, 1, 77, 77, 4, 8, 8, true))));
        c.add(direct("attention cross b1 200x77 8 heads of 40 (one key tile, several query blocks)",
                b -> one(attention(b, 1, 200, 77, 8, 40, 40, false))));
        c.add(direct("attention self b2 130x300 4 heads of 40 (key tiles, query blocks, head groups)",
                b -> one(attention(b, 2, 130, 300, 4, 40, 40, false))));
        c.add(direct("attention causal b1 n200 2 heads of 64 (key tiles)", b -> one(attention(b, 1, 200, 200, 2, 64, 64, true))));
        c.add(direct("attention causal b2 n77 3 heads of 64 (the text encoder's layer)", b -> one(attention(b, 2, 77, 77, 3, 64, 64, true))));
        c.add(direct("attention cross b2 100x77 3 heads of 64", b -> one(attention(b, 2, 100, 77, 3, 64, 64, false))));
        c.add(direct("attention causal b2 n29 odd heads (keys of 7, values of 5)", b -> one(attention(b, 2, 29, 29, 2, 7, 5, true))));
        // Up to 1024 keys and just past them (the CPU backend's keys-across-lanes path and its limit), causal
        // panels of queries cut short at the end, heads not a multiple of the vector, several packed groups.
        c.add(direct("attention cross b1 13x160 2 heads of 64", b -> one(attention(b, 1, 13, 160, 2, 64, 64, false))));
        c.add(direct("attention cross b1 9x1024 2 heads of 16 (1024 keys)", b -> one(attention(b, 1, 9, 1024, 2, 16, 16, false))));
        c.add(direct("attention cross b1 20x1100 2 heads of 16 (1100 keys)", b -> one(attention(b, 1, 20, 1100, 2, 16, 16, false))));
        c.add(direct("attention causal b1 n1030 1 head of 16", b -> one(attention(b, 1, 1030, 1030, 1, 16, 16, true))));
        c.add(direct("attention causal b2 n53 5 heads of 16", b -> one(attention(b, 2, 53, 53, 5, 16, 16, true))));
        c.add(direct("attention cross b2 31x77 3 heads (keys of 24, values of 20)",
                b -> one(attention(b, 2, 31, 77, 3, 24, 20, false))));
        c.add(direct("attention cross b3 5x160 16 heads of 256 (one batch item per packed group)",
                b -> one(attention(b, 3, 5, 160, 16, 256, 256, false))));
        c.add(direct("attention cross b1 61x170 odd heads (keys of 9, values of 3; two key tiles)",
                b -> one(attention(b, 1, 61, 170, 3, 9, 3, false))));
    }

    private static Value attention(ProblemBuilder b, long batch, long nq, long nk, int heads, long d, long dv, boolean causal) {
        Value q = b.input("q", batch, nq, heads * d);
        Value k = b.input("k", batch, nk, heads * d);
        Value v = b.input("v", batch, nk, heads * dv);
        return b.graph().attention(q, k, v, heads, (float) (1 / Math.sqrt(d)), causal);
    }

    private static void norms(List<ConformanceCase> c) {
        c.add(direct("group norm 32 + silu 2x64x7x9", b -> one(groupNorm(b, 32, 1e-5f, true, 0, 2, 64, 7, 9))));
        c.add(direct("group norm 3 1x12x5x3 eps 1e-6", b -> one(groupNorm(b, 3, 1e-6f, false, 0, 1, 12, 5, 3))));
        c.add(direct("group norm 8 + silu 1x1 spatial", b -> one(groupNorm(b, 8, 1e-5f, true, 0, 2, 32, 1, 1))));
        c.add(direct("group norm rank 3 2x6x11", b -> one(groupNorm(b, 2, 1e-5f, false, 0, 2, 6, 11))));
        c.add(direct("group norm mean 40 (cancellation)", b -> one(groupNorm(b, 4, 1e-5f, true, 40, 1, 8, 13, 17))));
        c.add(direct("group norm 4 + silu 3x8x32x40 (whole vectors, several chunks per group)",
                b -> one(groupNorm(b, 4, 1e-5f, true, 0, 3, 8, 32, 40))));
        c.add(direct("group norm 2 + silu 1x4x37x29 (several chunks, ragged ends)",
                b -> one(groupNorm(b, 2, 1e-5f, true, 0, 1, 4, 37, 29))));
        c.add(direct("group norm 4 + silu over a value made in the graph that dies there (in place where the backend allows)",
                b -> one(groupNormOverIntermediate(b, 2, 8, 9, 11))));
        c.add(direct("layer norm 2x7x77", b -> one(layerNorm(b, 0, 2, 7, 77))));
        c.add(direct("layer norm 1x1x33 mean 25", b -> one(layerNorm(b, 25, 1, 1, 33))));
        c.add(direct("layer norm 3x320", b -> one(layerNorm(b, 0, 3, 320))));
    }

    private static Value groupNorm(ProblemBuilder b, int groups, float eps, boolean silu, double mean, long... dims) {
        Value x = b.input("x", b.random().normal(Shape.of(dims), mean, 1.5));
        long ch = dims[1];
        return b.graph().groupNorm(x, b.constant("gamma", F32, 1, 0.2, ch), b.constant("beta", F32, 0, 0.2, ch), groups, eps, silu);
    }

    /** (GroupNorm+SiLU of 2x) + x: the norm's input is written by the graph and read by nothing after it. */
    public static Value groupNormOverIntermediate(ProblemBuilder b, long... dims) {
        Value x = b.input("x", b.random().normal(Shape.of(dims), 0, 1.5));
        long ch = dims[1];
        Value doubled = b.graph().add(x, x);
        Value norm = b.graph().groupNorm(doubled, b.constant("gamma", F32, 1, 0.2, ch), b.constant("beta", F32, 0, 0.2, ch), 4, 1e-5f,
                true);
        return b.graph().add(norm, x);
    }

    private static Value layerNorm(ProblemBuilder b, double mean, long... dims) {
        Value x = b.input("x", b.random().normal(Shape.of(dims), mean, 1.5));
        long ch = dims[dims.length - 1];
        return b.graph().layerNorm(x, b.constant("gamma", F32, 1, 0.2, ch), b.constant("beta", F32, 0, 0.2, ch), 1e-5f);
    }

    private static void pointwise(List<ConformanceCase> c) {
        for (Activation a : List.of(Activation.SILU, Activation.GELU, Activation.GELU_TANH, Activation.QUICK_GELU)) {
            c.add(direct("unary " + a + " 1037", b -> one(b.graph().unary(b.input("x", b.random().normal(Shape.of(1037), 0, 3)), a))));
        }
        c.add(direct("unary GEGLU 3x38", b -> one(b.graph().unary(b.input("x", 3, 38), Activation.GEGLU))));
        c.add(direct("unary QUICK_GELU 2x4500 (several chunks, a partial last one)",
                b -> one(b.graph().unary(b.input("x", b.random().normal(Shape.of(2, 4500), 0, 3)), Activation.QUICK_GELU))));
        c.add(direct("unary GEGLU 5x2x90 (rows of several vectors and a tail)", b -> one(b.graph().unary(b.input("x", 5, 2, 90), Activation.GEGLU))));
        c.add(direct("unary SILU 2x3x1x1", b -> one(b.graph().unary(b.input("x", 2, 3, 1, 1), Activation.SILU))));
        c.add(direct("add same shape 2x3x5x7", b -> one(b.graph().add(b.input("a", 2, 3, 5, 7), b.input("b", 2, 3, 5, 7)))));
        c.add(direct("add per channel 2x5x9x7 + 5x1x1", b -> one(b.graph().add(b.input("a", 2, 5, 9, 7), b.input("b", 5, 1, 1)))));
        c.add(direct("mul 2x13x37 * 37", b -> one(b.graph().mul(b.input("a", 2, 13, 37), b.input("b", 37)))));
        c.add(direct("sub 3x1x5 - 4x1 (both broadcast)", b -> one(b.graph().binary(b.input("a", 3, 1, 5), b.input("b", 4, 1), BinaryOp.SUB))));
        c.add(direct("add f16 constant 2x6 + 6", b -> one(b.graph().add(b.input("a", 2, 6), b.constant("c", DType.F16, 0, 1, 6)))));
        c.add(direct("mul by scalar 1", b -> one(b.graph().mul(b.input("a", 4, 33), b.input("s", 1)))));
        c.add(direct("add time embedding 2x7x3x5 + 2x7x1x1", b -> one(b.graph().add(b.input("a", 2, 7, 3, 5), b.input("t", 2, 7, 1, 1)))));
        c.add(direct("softmax 3x77", b -> one(b.graph().softmax(b.input("x", 3, 77)))));
        c.add(direct("softmax 5x1037 large logits", b -> one(b.graph().softmax(b.input("x", b.random().normal(Shape.of(5, 1037), 0, 30))))));
        c.add(direct("softmax 2x1", b -> one(b.graph().softmax(b.input("x", 2, 1)))));
    }

    private static void layout(List<ConformanceCase> c) {
        c.add(direct("upsample2x 2x3x5x7", b -> one(b.graph().upsample2x(b.input("x", 2, 3, 5, 7)))));
        c.add(direct("upsample2x 1x1x1x1", b -> one(b.graph().upsample2x(b.input("x", 1, 1, 1, 1)))));
        c.add(direct("concat channels 2x3x5x5 + 2x4x5x5", b -> one(b.graph().concat(1, b.input("a", 2, 3, 5, 5), b.input("b", 2, 4, 5, 5)))));
        c.add(direct("concat last axis 2x7x3 + 2x7x5 + 2x7x1", b -> one(b.graph().concat(-1, b.input("a", 2, 7, 3), b.input("b", 2, 7, 5), b.input("c", 2, 7, 1)))));
        c.add(direct("concat batch 1x4x3 + 2x4x3", b -> one(b.graph().concat(0, b.input("a", 1, 4, 3), b.input("b", 2, 4, 3)))));
        c.add(direct("transpose 2x37x41", b -> one(b.graph().transpose(b.input("x", 2, 37, 41)))));
        c.add(direct("transpose 1x1x5", b -> one(b.graph().transpose(b.input("x", 1, 1, 5)))));
        c.add(direct("embedding i64 ids 2x7 in 50x24", b -> one(b.graph().embedding(b.input("ids", b.random().ids(Shape.of(2, 7), 50, DType.I64)),
                b.constant("table", F32, 0, 1, 50, 24)))));
        c.add(direct("embedding i32 ids 9 in f16 13x5", b -> one(b.graph().embedding(b.input("ids", b.random().ids(Shape.of(9), 13, DType.I32)),
                b.constant("table", DType.F16, 0, 1, 13, 5)))));
        c.add(direct("timestep embedding 32 flip", b -> one(timesteps(b, 32, true, 0))));
        c.add(direct("timestep embedding 33 (odd) shift 1", b -> one(timesteps(b, 33, false, 1))));
        c.add(direct("timestep embedding 320 flip", b -> one(timesteps(b, 320, true, 0))));
    }

    private static Value timesteps(ProblemBuilder b, int dim, boolean flip, float shift) {
        float[] t = {0f, 1f, 500.5f, 999f, (float) (1000 * b.random().nextGaussian() * b.random().nextGaussian())};
        Value tv = b.input("t", Tensor.ofFloats(Shape.of(t.length), t));
        return b.graph().timestepEmbedding(tv, dim, flip, shift, 1f, 10000f);
    }

    private static void graphs(List<ConformanceCase> c) {
        // A ResNet block and a transformer tail: arena reuse, reshape aliases, fused residuals, two outputs.
        c.add(transformed("graph resnet block + attention tail", b -> {
            GraphBuilder g = b.graph();
            long n = 2, ch = 16, h = 6, w = 5;
            Value x = b.input("x", n, ch, h, w);
            Value temb = b.input("temb", n, 24);
            Value h1 = g.groupNorm(x, b.constant("g1", F32, 1, 0.1, ch), b.constant("b1", F32, 0, 0.1, ch), 4, 1e-5f, true);
            h1 = g.conv2d(h1, b.weight("c1", F32, ch * 9, ch, ch, 3, 3), b.constant("cb1", F32, 0, 0.1, ch), null, 1, Padding.same(1));
            Value t = g.linear(g.unary(temb, Activation.SILU), b.weight("tw", F32, 24, ch, 24), b.constant("tb", F32, 0, 0.1, ch));
            h1 = g.add(h1, g.reshape(t, n, ch, 1, 1));
            h1 = g.groupNorm(h1, b.constant("g2", F32, 1, 0.1, ch), b.constant("b2", F32, 0, 0.1, ch), 4, 1e-5f, true);
            Value block = g.conv2d(h1, b.weight("c2", F32, ch * 9, ch, ch, 3, 3), b.constant("cb2", F32, 0, 0.1, ch), x, 1, Padding.same(1));
            Value tokens = g.transpose(g.reshape(block, n, ch, h * w));
            Value ln = g.layerNorm(tokens, b.constant("lg", F32, 1, 0.1, ch), b.constant("lb", F32, 0, 0.1, ch), 1e-5f);
            Value q = g.linear(ln, b.weight("wq", F32, ch, ch, ch), null);
            Value k = g.linear(ln, b.weight("wk", F32, ch, ch, ch), null);
            Value v = g.linear(ln, b.weight("wv", F32, ch, ch, ch), null);
            Value att = g.attention(q, k, v, 2, (float) (1 / Math.sqrt(ch / 2.0)), false);
            Value proj = g.linear(att, b.weight("wo", F32, ch, ch, ch), b.constant("bo", F32, 0, 0.1, ch), Activation.NONE, tokens);
            Value ff = g.linear(proj, b.weight("ff", F32, ch, 2 * 24, ch), null, Activation.GEGLU, null);
            Value back = g.reshape(g.transpose(g.linear(ff, b.weight("ff2", F32, 24, ch, 24), null, Activation.NONE, proj)), n, ch, h, w);
            Value up = g.upsample2x(back);
            return new Value[]{up, g.reshape(g.concat(1, back, x), n, 2 * ch * h * w)};
        }));
    }

    private static Value[] one(Value v) {
        return new Value[]{v};
    }
}
