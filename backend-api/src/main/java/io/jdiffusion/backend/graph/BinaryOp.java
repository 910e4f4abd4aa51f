package io.jdiffusion.backend.graph;

/** Elementwise binary operators, with NumPy broadcasting. */
public enum BinaryOp {
    ADD,
    SUB,
    MUL
}
