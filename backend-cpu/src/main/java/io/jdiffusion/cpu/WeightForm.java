package io.jdiffusion.cpu;

import io.jdiffusion.core.DType;

/**
 * How a constant is laid out for a kernel, and at which storage precision: with the constant's identity,
 * the key of a shared packing in the {@link WeightCache}. {@code rows} and {@code cols} are the packed
 * operand's dimensions (GEMM rows and depth for A panels, columns and depth for B panels; the element
 * count for a copy).
 */
record WeightForm(Kind kind, int rows, int cols, boolean geglu, DType storage) {
    enum Kind {
        /** The constant's values in row-major order: F32 for floats (the kernels that read constants in place), raw bytes otherwise. */
        COPY,
        /** F32 values on the heap, padded by {@link Gemm#NR} zeros (biases, read by GEMM epilogues). */
        HEAP_COPY,
        /** B panels of a linear weight W^T [k, n] ({@link Packing#packBFromWeights}). */
        LINEAR_B,
        /** A panels of a convolution's weights [cout, cin*kh*kw]. */
        CONV_A,
        /** Winograd F(2x2,3x3) filters G g G^T as 16 A operands. */
        WINOGRAD_F2_A,
        /** Winograd F(4x4,3x3) filters G g G^T as 36 A operands. */
        WINOGRAD_F4_A,
        /** 3x3 weights as [cout][9][cin], from which {@link WinogradFilterStream} transforms filters (of any tile size) as it runs. */
        WINOGRAD_TAPS;

        /** Whether this form holds Winograd-transformed filters (counted against their budget, stored as {@link CompileContext#winogradStorage}). */
        boolean winogradFilters() {
            return this == WINOGRAD_F2_A || this == WINOGRAD_F4_A;
        }
    }
}
