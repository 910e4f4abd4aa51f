package io.jdiffusion.cpu;

import io.jdiffusion.backend.graph.Op;

/** An attention operator's sizes: batch, queries, keys, heads, and each head's key (d) and value (dv) channels. */
record AttentionSizes(int batch, int nq, int nk, int heads, int d, int dv) {
    static AttentionSizes of(Op.Attention op) {
        int heads = op.heads();
        return new AttentionSizes(op.q().shape().size(0), op.q().shape().size(1), op.k().shape().size(1), heads,
                op.q().shape().size(2) / heads, op.v().shape().size(2) / heads);
    }
}
