package io.jdiffusion.tornado.nvidia;

/**
 * One cuBLASLt product, in cuBLAS's column-major terms unless {@code order} is {@link Order#ROW}: D (m x n, leading
 * dimension {@code ldd}) = op(A) op(B) [+ C] [+ bias], with F32 accumulation (no TF32), once or for each entry of a
 * strided {@link Batch}. A and B are of element type {@code type}; C, D and the bias of
 * {@code outType}, the same type or F32 (F16 operands with an F32 result: attention's scores, which a softmax
 * reads next and F16 would round to three digits). A is stored {@code k x m} when {@code transA}, else {@code m x k}
 * (leading dimension {@code lda}); likewise B, {@code n x k} when {@code transB}, else {@code k x n}. C, when present,
 * has D's layout and is added with beta = 1 (a residual); the bias, when present, is a vector of m elements of D's
 * type broadcast over D's columns (cuBLASLt's bias epilogue). Each operand is an element offset into one of the
 * library task's array parameters; parameter {@code workspace} is the workspace array. This record is the task's
 * tuning object: it rides beside the task instead of as scalar parameters of TornadoVM's task-graph buffer.
 */
public record LtMatmul(ElementType type, ElementType outType, Order order, int m, int n, int k, boolean transA, boolean transB, int lda,
                       int ldb, int ldd, Batch batch, Operand a, Operand b, Operand c, Operand d, Operand bias, int workspace) {
    /** Largest alignment worth telling cuBLASLt about (its preferences' default and its largest requirement). */
    public static final int MAX_ALIGNMENT = 256;

    /** The element types of A, B, C, D and the bias: all F16 or all F32. */
    public enum ElementType {
        F16(2, CublasLt.CUDA_R_16F),
        F32(4, CublasLt.CUDA_R_32F);

        private final int bytes;
        private final int cudaType;

        ElementType(int bytes, int cudaType) {
            this.bytes = bytes;
            this.cudaType = cudaType;
        }

        public int bytes() {
            return bytes;
        }

        int cudaType() {
            return cudaType;
        }
    }

    /**
     * How every matrix of the product is stored: column-major (cuBLAS's own order; a leading dimension is the
     * distance between columns) or row-major (cuBLASLt's {@code CUBLASLT_ORDER_ROW}; the distance between rows), which
     * is how an NCHW 1x1 convolution's y [cout, pixels] lies. cuBLASLt's bias epilogue is refused in row order.
     */
    public enum Order {
        COLUMN,
        ROW
    }

    /**
     * {@code count} products of one shape, entry i's operands {@code i x stride} elements past entry 0's: A's, B's,
     * and D's (C shares D's). A stride of 0 shares the operand among all entries (a convolution's weight).
     */
    public record Batch(int count, long strideA, long strideB, long strideD) {
        public static final Batch NONE = new Batch(1, 0, 0, 0);

        public Batch {
            if (count < 1 || strideA < 0 || strideB < 0 || strideD < 0) {
                throw new IllegalArgumentException("a batch needs a count of at least 1 and strides of at least 0, not " + count + " x ("
                        + strideA + ", " + strideB + ", " + strideD + ")");
            }
            if (count > 1 && strideD == 0) {
                throw new IllegalArgumentException("the entries of a batch of " + count + " would all write one D: its stride is 0");
            }
        }
    }

    /** An operand: element {@code offset} of the task's array parameter {@code parameter}. */
    public record Operand(int parameter, long offset) {
        public Operand {
            if (parameter < 0 || offset < 0) {
                throw new IllegalArgumentException("an operand needs a parameter index and an offset of at least 0, not " + parameter + " and "
                        + offset);
            }
        }
    }

    public LtMatmul {
        if (type == null || outType == null || order == null || batch == null || a == null || b == null || d == null) {
            throw new IllegalArgumentException("a product needs element types, an order, a batch and operands A, B and D");
        }
        if (outType != type && outType != ElementType.F32) {
            throw new IllegalArgumentException("a product of " + type + " operands writes " + type + (type == ElementType.F32 ? "" : " or F32")
                    + ", not " + outType);
        }
        if (m < 1 || n < 1 || k < 1) {
            throw new IllegalArgumentException("product sizes must be positive: m " + m + ", n " + n + ", k " + k);
        }
        // a leading dimension spans a stored column (column order) or a stored row (row order)
        boolean rows = order == Order.ROW;
        long aLine = rows ? (transA ? m : k) : (transA ? k : m);
        long bLine = rows ? (transB ? k : n) : (transB ? n : k);
        long dLine = rows ? n : m;
        if (lda < aLine || ldb < bLine || ldd < dLine) {
            throw new IllegalArgumentException("leading dimensions " + lda + ", " + ldb + ", " + ldd + " are shorter than the "
                    + (rows ? "rows" : "columns") + " of " + describeShape(type, m, n, k, transA, transB));
        }
        if (order == Order.ROW && bias != null) {
            throw new IllegalArgumentException("cuBLASLt offers no algorithm for a bias epilogue on row-major matrices (its heuristic "
                    + "answered NOT_SUPPORTED on an H100 with CUDA 13): add the bias after the product");
        }
        if (workspace < 0) {
            throw new IllegalArgumentException("the workspace needs a parameter index, not " + workspace);
        }
    }

    /** One column-major product. */
    public LtMatmul(ElementType type, ElementType outType, int m, int n, int k, boolean transA, boolean transB, int lda, int ldb, int ldd,
                    Operand a, Operand b, Operand c, Operand d, Operand bias, int workspace) {
        this(type, outType, Order.COLUMN, m, n, k, transA, transB, lda, ldb, ldd, Batch.NONE, a, b, c, d, bias, workspace);
    }

    /** One column-major product whose every operand is of {@code type}. */
    public LtMatmul(ElementType type, int m, int n, int k, boolean transA, boolean transB, int lda, int ldb, int ldd, Operand a, Operand b,
                    Operand c, Operand d, Operand bias, int workspace) {
        this(type, type, m, n, k, transA, transB, lda, ldb, ldd, a, b, c, d, bias, workspace);
    }

    /** beta: 1 where C is added, else 0. */
    public float beta() {
        return c == null ? 0f : 1f;
    }

    /** Device address of operand A or B, given the device address of its parameter's element 0. */
    public long inputPointer(Operand o, long base) {
        return base + o.offset() * type.bytes();
    }

    /** Device address of operand C, D or the bias, given the device address of its parameter's element 0. */
    public long outputPointer(Operand o, long base) {
        return base + o.offset() * outType.bytes();
    }

    /** The largest power of two dividing {@code pointer}, at most {@value #MAX_ALIGNMENT}: what cuBLASLt may assume. */
    public static int alignment(long pointer) {
        if (pointer == 0) {
            return MAX_ALIGNMENT;
        }
        return (int) Math.min(MAX_ALIGNMENT, Long.lowestOneBit(pointer));
    }

    /** The task's array parameters this product writes: D's and the workspace's. */
    public boolean writes(int parameter) {
        return parameter == d.parameter() || parameter == workspace;
    }

    /** The largest parameter index any operand uses, plus one: the library task's parameter count. */
    public int parameterCount() {
        int max = Math.max(workspace, Math.max(a.parameter(), Math.max(b.parameter(), d.parameter())));
        if (c != null) {
            max = Math.max(max, c.parameter());
        }
        if (bias != null) {
            max = Math.max(max, bias.parameter());
        }
        return max + 1;
    }

    @Override
    public String toString() {
        return describeShape(type, m, n, k, transA, transB) + (outType == type ? "" : " -> " + outType) + (order == Order.ROW ? " row-major" : "")
                + " ld " + lda + "/" + ldb + "/" + ldd + (batch.count() == 1 ? "" : " batch " + batch.count() + " strides " + batch.strideA()
                + "/" + batch.strideB() + "/" + batch.strideD()) + ", A " + a + ", B " + b + ", C " + c + ", D " + d + ", bias " + bias;
    }

    private static String describeShape(ElementType t, int m, int n, int k, boolean ta, boolean tb) {
        return t + " " + m + "x" + n + "x" + k + (ta ? " A^T" : "") + (tb ? " B^T" : "");
    }
}
