package io.jdiffusion.tornado.nvidia;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The few functions of cuBLASLt ({@value #SONAME}) that a matrix product needs, called through Java's FFM. Handles,
 * descriptors, device pointers and the stream are C pointers, passed as {@code long} (the same register class on
 * the x86-64 and AArch64 ABIs); enums are 4-byte ints and {@code size_t}/{@code uint64_t} 8-byte longs, as
 * declared in cublasLt.h. Every status is checked: a call that fails throws one {@link CublasLtException} naming
 * the call and the status ({@code cublasLtGetStatusName}). The library is looked up on first use, so this class
 * loads where cuBLASLt does not (PoCL).
 */
public final class CublasLt {
    public static final String SONAME = "libcublasLt.so.13";

    // cublas_api.h: cublasStatus_t, cublasOperation_t, cublasComputeType_t
    static final int CUBLAS_STATUS_SUCCESS = 0;
    static final int CUBLAS_STATUS_NOT_SUPPORTED = 15;
    static final int CUBLAS_OP_N = 0;
    static final int CUBLAS_OP_T = 1;
    static final int CUBLAS_COMPUTE_32F = 68;
    // library_types.h: cudaDataType_t
    static final int CUDA_R_32F = 0;
    static final int CUDA_R_16F = 2;
    // cublasLt.h: cublasLtMatmulDescAttributes_t
    static final int MATMUL_DESC_TRANSA = 3;
    static final int MATMUL_DESC_TRANSB = 4;
    static final int MATMUL_DESC_EPILOGUE = 7;
    static final int MATMUL_DESC_BIAS_POINTER = 8;
    // cublasLt.h: cublasLtEpilogue_t
    static final int EPILOGUE_BIAS = 4;
    // cublasLt.h: cublasLtMatrixLayoutAttribute_t and cublasLtOrder_t
    static final int LAYOUT_ORDER = 1;
    static final int LAYOUT_BATCH_COUNT = 5;
    static final int LAYOUT_STRIDED_BATCH_OFFSET = 6;
    static final int ORDER_ROW = 1;
    // cublasLt.h: cublasLtMatmulPreferenceAttributes_t
    static final int PREF_MAX_WORKSPACE_BYTES = 1;
    static final int PREF_MIN_ALIGNMENT_A_BYTES = 5;
    static final int PREF_MIN_ALIGNMENT_B_BYTES = 6;
    static final int PREF_MIN_ALIGNMENT_C_BYTES = 7;
    static final int PREF_MIN_ALIGNMENT_D_BYTES = 8;

    /** cublasLtMatmulAlgo_t: {@code uint64_t data[8]}. */
    static final long ALGO_BYTES = 64;
    /**
     * cublasLtMatmulHeuristicResult_t: algo (64 bytes at 0), size_t workspaceSize at 64, cublasStatus_t state at 72,
     * float wavesCount at 76, int reserved[4] at 80; 96 bytes, 8-byte aligned.
     */
    static final long HEURISTIC_BYTES = 96;
    static final long HEURISTIC_WORKSPACE = 64;
    static final long HEURISTIC_STATE = 72;

    private CublasLt() {
    }

    /** The downcalls, bound when first used. */
    private static final class Native {
        private static final Linker LINKER = Linker.nativeLinker();
        private static final SymbolLookup LIB = SymbolLookup.libraryLookup(SONAME, Arena.global());

        static final MethodHandle CREATE = bind("cublasLtCreate", JAVA_INT, ADDRESS);
        static final MethodHandle DESTROY = bind("cublasLtDestroy", JAVA_INT, JAVA_LONG);
        static final MethodHandle STATUS_NAME = bind("cublasLtGetStatusName", ADDRESS, JAVA_INT);
        static final MethodHandle DESC_CREATE = bind("cublasLtMatmulDescCreate", JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT);
        static final MethodHandle DESC_SET = bind("cublasLtMatmulDescSetAttribute", JAVA_INT, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG);
        static final MethodHandle DESC_DESTROY = bind("cublasLtMatmulDescDestroy", JAVA_INT, JAVA_LONG);
        static final MethodHandle LAYOUT_CREATE = bind("cublasLtMatrixLayoutCreate", JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_LONG,
                JAVA_LONG);
        static final MethodHandle LAYOUT_SET = bind("cublasLtMatrixLayoutSetAttribute", JAVA_INT, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG);
        static final MethodHandle LAYOUT_DESTROY = bind("cublasLtMatrixLayoutDestroy", JAVA_INT, JAVA_LONG);
        static final MethodHandle PREF_CREATE = bind("cublasLtMatmulPreferenceCreate", JAVA_INT, ADDRESS);
        static final MethodHandle PREF_SET = bind("cublasLtMatmulPreferenceSetAttribute", JAVA_INT, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG);
        static final MethodHandle PREF_DESTROY = bind("cublasLtMatmulPreferenceDestroy", JAVA_INT, JAVA_LONG);
        // (handle, operationDesc, Adesc, Bdesc, Cdesc, Ddesc, preference, requestedAlgoCount, results[], *returnAlgoCount)
        static final MethodHandle HEURISTIC = bind("cublasLtMatmulAlgoGetHeuristic", JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS);
        // (handle, computeDesc, *alpha, A, Adesc, B, Bdesc, *beta, C, Cdesc, D, Ddesc, *algo, workspace, workspaceSize, stream)
        static final MethodHandle MATMUL = bind("cublasLtMatmul", JAVA_INT, JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG);

        private static MethodHandle bind(String name, ValueLayout result, ValueLayout... args) {
            MemorySegment symbol = LIB.find(name).orElseThrow(() -> new UnsatisfiedLinkError(SONAME + " has no symbol " + name));
            return LINKER.downcallHandle(symbol, FunctionDescriptor.of(result, args));
        }
    }

    /** A cuBLASLt handle. */
    public static long create() {
        return created("cublasLtCreate", "", out -> (int) Native.CREATE.invokeExact(out));
    }

    public static void destroy(long handle) {
        release("cublasLtDestroy", Native.DESTROY, handle);
    }

    /** cublasLtGetStatusName, e.g. "CUBLAS_STATUS_NOT_SUPPORTED". */
    public static String statusName(int status) {
        try {
            MemorySegment name = (MemorySegment) Native.STATUS_NAME.invokeExact(status);
            return name.equals(MemorySegment.NULL) ? "status " + status : name.reinterpret(256).getString(0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** A matmul descriptor with F32 scale type. */
    static long descCreate(int computeType, int scaleType) {
        return created("cublasLtMatmulDescCreate", "", out -> (int) Native.DESC_CREATE.invokeExact(out, computeType, scaleType));
    }

    /** Sets a 4-byte (int32_t, uint32_t or enum) attribute of a matmul descriptor. */
    static void descSetInt(long desc, int attribute, int value) {
        setAttribute("cublasLtMatmulDescSetAttribute", Native.DESC_SET, desc, attribute, value, Integer.BYTES);
    }

    /** Sets an 8-byte (pointer or int64_t) attribute of a matmul descriptor. */
    static void descSetLong(long desc, int attribute, long value) {
        setAttribute("cublasLtMatmulDescSetAttribute", Native.DESC_SET, desc, attribute, value, Long.BYTES);
    }

    static void descDestroy(long desc) {
        release("cublasLtMatmulDescDestroy", Native.DESC_DESTROY, desc);
    }

    /** A column-major matrix layout: {@code rows x cols}, leading dimension {@code ld}, elements of {@code type} ({@link #layoutSetInt} changes the order). */
    static long layoutCreate(int type, long rows, long cols, long ld) {
        return created("cublasLtMatrixLayoutCreate", rows + "x" + cols + " ld " + ld + " type " + type,
                out -> (int) Native.LAYOUT_CREATE.invokeExact(out, type, rows, cols, ld));
    }

    /** Sets a 4-byte (int32_t or enum: the order, the batch count) attribute of a matrix layout. */
    static void layoutSetInt(long layout, int attribute, int value) {
        setAttribute("cublasLtMatrixLayoutSetAttribute", Native.LAYOUT_SET, layout, attribute, value, Integer.BYTES);
    }

    /** Sets an 8-byte (int64_t: the strided batch offset) attribute of a matrix layout. */
    static void layoutSetLong(long layout, int attribute, long value) {
        setAttribute("cublasLtMatrixLayoutSetAttribute", Native.LAYOUT_SET, layout, attribute, value, Long.BYTES);
    }

    static void layoutDestroy(long layout) {
        release("cublasLtMatrixLayoutDestroy", Native.LAYOUT_DESTROY, layout);
    }

    static long preferenceCreate() {
        return created("cublasLtMatmulPreferenceCreate", "", out -> (int) Native.PREF_CREATE.invokeExact(out));
    }

    /** Sets a uint32_t preference (the minimum alignments). */
    static void preferenceSetInt(long pref, int attribute, int value) {
        setAttribute("cublasLtMatmulPreferenceSetAttribute", Native.PREF_SET, pref, attribute, value, Integer.BYTES);
    }

    /** Sets a uint64_t preference (the maximum workspace bytes). */
    static void preferenceSetLong(long pref, int attribute, long value) {
        setAttribute("cublasLtMatmulPreferenceSetAttribute", Native.PREF_SET, pref, attribute, value, Long.BYTES);
    }

    static void preferenceDestroy(long pref) {
        release("cublasLtMatmulPreferenceDestroy", Native.PREF_DESTROY, pref);
    }

    /**
     * The heuristic's best algorithm for a product, copied into {@code algo} (64 bytes); returns the workspace bytes
     * it needs. Throws CUBLAS_STATUS_NOT_SUPPORTED, naming {@code what}, where no algorithm fits.
     */
    static long bestAlgorithm(long handle, long desc, long a, long b, long c, long d, long pref, MemorySegment algo, String what) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment results = arena.allocate(HEURISTIC_BYTES, 8);
            MemorySegment count = arena.allocate(JAVA_INT);
            check("cublasLtMatmulAlgoGetHeuristic", (int) Native.HEURISTIC.invokeExact(handle, desc, a, b, c, d, pref, 1, results, count), what);
            if (count.get(JAVA_INT, 0) < 1) {
                throw new CublasLtException("cublasLtMatmulAlgoGetHeuristic", CUBLAS_STATUS_NOT_SUPPORTED, statusName(CUBLAS_STATUS_NOT_SUPPORTED),
                        "no algorithm for " + what);
            }
            check("cublasLtMatmulAlgoGetHeuristic (result state)", results.get(JAVA_INT, HEURISTIC_STATE), what);
            MemorySegment.copy(results, 0, algo, 0, ALGO_BYTES);
            return results.get(JAVA_LONG, HEURISTIC_WORKSPACE);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** cublasLtMatmul with host scalars alpha and beta (F32, the descriptors' scale type), enqueued on {@code stream}. */
    static void matmul(long handle, long desc, float alpha, long a, long aDesc, long b, long bDesc, float beta, long c, long cDesc, long d,
                       long dDesc, MemorySegment algo, long workspace, long workspaceBytes, long stream, String what) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment scalars = arena.allocate(ValueLayout.JAVA_FLOAT, 2);
            scalars.setAtIndex(ValueLayout.JAVA_FLOAT, 0, alpha);
            scalars.setAtIndex(ValueLayout.JAVA_FLOAT, 1, beta);
            check("cublasLtMatmul", (int) Native.MATMUL.invokeExact(handle, desc, scalars, a, aDesc, b, bDesc, scalars.asSlice(4), c, cDesc, d,
                    dDesc, algo, workspace, workspaceBytes, stream), what);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code call(target, attribute, &value, bytes)}: a descriptor's or preference's attribute, {@code bytes} 4
     * (int32_t, uint32_t, an enum) or 8 (a pointer, int64_t, uint64_t).
     */
    private static void setAttribute(String call, MethodHandle setter, long target, int attribute, long value, long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(Long.BYTES, Long.BYTES);
            if (bytes == Integer.BYTES) {
                buf.set(JAVA_INT, 0, (int) value);
            } else {
                buf.set(JAVA_LONG, 0, value);
            }
            check(call, (int) setter.invokeExact(target, attribute, buf, bytes), "attribute " + attribute);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** A cublasLt...Create call: it writes the new object's pointer into {@code out} and returns a status. */
    @FunctionalInterface
    private interface CreateCall {
        int into(MemorySegment out) throws Throwable;
    }

    /** The object {@code create} makes, its status checked ({@code call} and {@code context} name it in the error). */
    private static long created(String call, String context, CreateCall create) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_LONG);
            check(call, create.into(out), context);
            return out.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code call(object)}: a cublasLt...Destroy. */
    private static void release(String call, MethodHandle destroy, long object) {
        try {
            check(call, (int) destroy.invokeExact(object), "");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static void check(String call, int status, String context) {
        if (status != CUBLAS_STATUS_SUCCESS) {
            throw new CublasLtException(call, status, statusName(status), context);
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new IllegalStateException(t);
    }
}
