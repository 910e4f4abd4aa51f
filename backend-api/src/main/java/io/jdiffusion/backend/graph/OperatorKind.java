package io.jdiffusion.backend.graph;

/**
 * The kind an operator is grouped under in a per-operator profile: convolutions by kernel, output resolution,
 * channels and stride; linear layers by their GEMM shape (M rows, depth K, N output columns); attention by its
 * query and key counts and heads; the rest by family (norm, elementwise, layout). The names are those of
 * {@code scripts/ort_unet_profile.py}, so a network's profile lines up with ONNX Runtime's.
 */
public final class OperatorKind {
    private OperatorKind() {
    }

    /**
     * The kind of one operator.
     *
     * @param op an operator of a graph
     * @return e.g. {@code conv3x3 32x32 320->320}, {@code linear M=2048 K=320 N=2560}, {@code norm}
     */
    public static String of(Op op) {
        return switch (op) {
            case Op.Conv2d c -> {
                var x = c.x().shape();
                var o = c.out().shape();
                var w = c.weight().shape();
                String stride = c.stride() == 1 ? "" : " stride " + c.stride();
                yield "conv" + c.kernelH() + "x" + c.kernelW() + " " + o.size(2) + "x" + o.size(3) + " "
                        + x.size(1) + "->" + w.size(0) + stride;
            }
            case Op.Linear l -> {
                int k = l.x().shape().size(-1);
                long m = l.x().shape().elementCount() / k;
                yield "linear M=" + m + " K=" + k + " N=" + l.weight().shape().size(0);
            }
            case Op.Attention a -> "attention " + a.q().shape().size(1) + "x" + a.k().shape().size(1) + " "
                    + a.heads() + " heads of " + a.q().shape().size(2) / a.heads();
            case Op.GroupNorm g -> "norm";
            case Op.LayerNorm l -> "norm";
            case Op.Unary u -> "elementwise";
            case Op.Binary b -> "elementwise";
            case Op.Softmax s -> "elementwise";
            case Op.TimestepEmbedding t -> "elementwise";
            case Op.Upsample2x u -> "layout";
            case Op.Concat c -> "layout";
            case Op.Transpose t -> "layout";
            case Op.Embedding e -> "layout";
            case Op.Reshape r -> "layout";
        };
    }
}
