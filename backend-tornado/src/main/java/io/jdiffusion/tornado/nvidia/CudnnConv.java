package io.jdiffusion.tornado.nvidia;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * cuDNN 9's legacy convolution API and the graph API's descriptor calls through Java's FFM: the few calls
 * {@link CudnnConvProvider}, {@link CudnnAttentionProvider} and their graph-API plans make, each status
 * checked into one exception naming the call and cuDNN's own error string. The C signatures are those of
 * cudnn_graph.h, cudnn_ops.h and cudnn_cnn.h (cuDNN 9.6): enums are C ints, {@code size_t} is 8 bytes, handles and
 * descriptors are pointers. cuDNN 9 splits its symbols over a shim ({@code libcudnn.so.9}) and sub-libraries
 * ({@code libcudnn_graph}, {@code _ops}, {@code _cnn}); each symbol is looked up in all of them, the shim first.
 * Loaded on first use (only a provider context on TornadoVM's CUDA backend gets here).
 */
final class CudnnConv {
    /** Where the symbols may live, in the order they are searched. */
    static final List<String> LIBRARIES = List.of("libcudnn.so.9", "libcudnn_graph.so.9", "libcudnn_ops.so.9", "libcudnn_cnn.so.9");

    // cudnn_graph.h: cudnnStatus_t, cudnnDataType_t, cudnnMathType_t, cudnnNanPropagation_t, cudnnTensorFormat_t,
    // cudnnActivationMode_t, cudnnConvolutionMode_t
    static final int STATUS_SUCCESS = 0;
    static final int DATA_FLOAT = 0;
    static final int DATA_HALF = 2;
    static final int DEFAULT_MATH = 0;
    static final int TENSOR_OP_MATH = 1;
    static final int TENSOR_OP_MATH_ALLOW_CONVERSION = 2;
    static final int FMA_MATH = 3;
    static final int NOT_PROPAGATE_NAN = 0;
    static final int TENSOR_NCHW = 0;
    static final int TENSOR_NHWC = 1;
    static final int ACTIVATION_IDENTITY = 5;
    static final int CROSS_CORRELATION = 1;
    // cudnn_ops.h: cudnnConvolutionFwdAlgo_t
    static final int FWD_ALGO_IMPLICIT_PRECOMP_GEMM = 1;
    static final String[] ALGORITHMS = {"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT", "FFT", "FFT_TILING", "WINOGRAD",
            "WINOGRAD_NONFUSED"};

    /**
     * cudnn_cnn.h's cudnnConvolutionFwdAlgoPerf_t: algo (int), status (int), time (float), 4 bytes of padding so
     * that memory (size_t) is 8-aligned, determinism (int), mathType (int), reserved (int[3]), 4 bytes of tail
     * padding: 48 bytes.
     */
    static final MemoryLayout ALGO_PERF = MemoryLayout.structLayout(JAVA_INT.withName("algo"), JAVA_INT.withName("status"),
            ValueLayout.JAVA_FLOAT.withName("time"), MemoryLayout.paddingLayout(4), JAVA_LONG.withName("memory"),
            JAVA_INT.withName("determinism"), JAVA_INT.withName("mathType"), MemoryLayout.sequenceLayout(3, JAVA_INT).withName("reserved"),
            MemoryLayout.paddingLayout(4));
    static final long PERF_ALGO = 0;
    static final long PERF_STATUS = 4;
    static final long PERF_MEMORY = 16;
    static final long PERF_MATH = 28;

    private static final FunctionDescriptor PTR_OUT = FunctionDescriptor.of(JAVA_INT, ADDRESS);
    private static final FunctionDescriptor PTR_IN = FunctionDescriptor.of(JAVA_INT, ADDRESS);
    private static final Map<String, FunctionDescriptor> SIGNATURES = signatures();
    private static volatile CudnnConv loaded;

    private final Map<String, MethodHandle> calls = new HashMap<>();
    private final MethodHandle errorString;
    private final MethodHandle getVersion;

    private CudnnConv(List<SymbolLookup> lookups) {
        Linker linker = Linker.nativeLinker();
        for (Map.Entry<String, FunctionDescriptor> e : SIGNATURES.entrySet()) {
            calls.put(e.getKey(), linker.downcallHandle(find(lookups, e.getKey()), e.getValue()));
        }
        errorString = linker.downcallHandle(find(lookups, "cudnnGetErrorString"), FunctionDescriptor.of(ADDRESS, JAVA_INT));
        getVersion = linker.downcallHandle(find(lookups, "cudnnGetVersion"), FunctionDescriptor.of(JAVA_LONG));
    }

    /** The loaded cuDNN's version as cudnnGetVersion gives it (major x 10000 + minor x 100 + patch: 9.13.0 is 91300). */
    long version() {
        try {
            return (long) getVersion.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException("cudnnGetVersion could not be called", t);
        }
    }

    /** The binding, loading cuDNN on first use; fails naming the library or symbol that is missing. */
    static CudnnConv get() {
        CudnnConv c = loaded;
        if (c == null) {
            synchronized (CudnnConv.class) {
                if (loaded == null) {
                    List<SymbolLookup> lookups = new ArrayList<>();
                    for (String soname : LIBRARIES) {
                        try {
                            lookups.add(SymbolLookup.libraryLookup(soname, Arena.global()));
                        } catch (IllegalArgumentException missing) {
                            // a sub-library absent in this cuDNN build: its symbols must be in another
                        }
                    }
                    if (lookups.isEmpty()) {
                        throw new IllegalStateException("cuDNN does not load: none of " + LIBRARIES + " is found (LD_LIBRARY_PATH)");
                    }
                    loaded = new CudnnConv(lookups);
                }
                c = loaded;
            }
        }
        return c;
    }

    private static MemorySegment find(List<SymbolLookup> lookups, String symbol) {
        for (SymbolLookup l : lookups) {
            Optional<MemorySegment> s = l.find(symbol);
            if (s.isPresent()) {
                return s.get();
            }
        }
        throw new IllegalStateException("cuDNN symbol " + symbol + " is in none of " + LIBRARIES);
    }

    private static Map<String, FunctionDescriptor> signatures() {
        Map<String, FunctionDescriptor> m = new HashMap<>();
        m.put("cudnnCreate", PTR_OUT);
        m.put("cudnnDestroy", PTR_IN);
        m.put("cudnnSetStream", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        m.put("cudnnCreateTensorDescriptor", PTR_OUT);
        m.put("cudnnDestroyTensorDescriptor", PTR_IN);
        // (desc, dataType, n, c, h, w, nStride, cStride, hStride, wStride)
        m.put("cudnnSetTensor4dDescriptorEx", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
        m.put("cudnnCreateFilterDescriptor", PTR_OUT);
        m.put("cudnnDestroyFilterDescriptor", PTR_IN);
        // (desc, dataType, format, k, c, h, w)
        m.put("cudnnSetFilter4dDescriptor", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT));
        m.put("cudnnCreateConvolutionDescriptor", PTR_OUT);
        m.put("cudnnDestroyConvolutionDescriptor", PTR_IN);
        // (desc, pad_h, pad_w, u, v, dilation_h, dilation_w, mode, computeType)
        m.put("cudnnSetConvolution2dDescriptor", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
        m.put("cudnnSetConvolutionMathType", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        m.put("cudnnCreateActivationDescriptor", PTR_OUT);
        m.put("cudnnDestroyActivationDescriptor", PTR_IN);
        // (desc, mode, reluNanOpt, coef)
        m.put("cudnnSetActivationDescriptor", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_DOUBLE));
        // (handle, int *count)
        m.put("cudnnGetConvolutionForwardAlgorithmMaxCount", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        // (handle, xDesc, wDesc, convDesc, yDesc, requestedAlgoCount, int *returnedAlgoCount, perfResults *)
        m.put("cudnnGetConvolutionForwardAlgorithm_v7", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                JAVA_INT, ADDRESS, ADDRESS));
        // (handle, xDesc, wDesc, convDesc, yDesc, requestedAlgoCount, int *returnedAlgoCount, perfResults *): runs each
        // algorithm on buffers cuDNN allocates itself
        m.put("cudnnFindConvolutionForwardAlgorithm", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                JAVA_INT, ADDRESS, ADDRESS));
        // (handle, xDesc, wDesc, convDesc, yDesc, algo, size_t *sizeInBytes)
        m.put("cudnnGetConvolutionForwardWorkspaceSize", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                JAVA_INT, ADDRESS));
        // (handle, alpha*, xDesc, x, wDesc, w, convDesc, algo, workSpace, workSpaceSizeInBytes, beta*, yDesc, y)
        m.put("cudnnConvolutionForward", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS));
        // (handle, alpha1*, xDesc, x, wDesc, w, convDesc, algo, workSpace, workSpaceSizeInBytes, alpha2*, zDesc, z,
        //  biasDesc, bias, activationDesc, yDesc, y)
        m.put("cudnnConvolutionBiasActivationForward", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        // (handle, alpha*, aDesc, A, beta*, cDesc, C): C = alpha A + beta C
        m.put("cudnnAddTensor", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        // the graph API (ConvGraphPlan): (type, descriptor*), (descriptor), (descriptor, name, type, count, values*),
        // (descriptor, name, type, requested, int64_t *count, values*), (descriptor), (handle, plan, variantPack)
        m.put("cudnnBackendCreateDescriptor", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
        m.put("cudnnBackendDestroyDescriptor", PTR_IN);
        m.put("cudnnBackendSetAttribute", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS));
        m.put("cudnnBackendGetAttribute", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS));
        m.put("cudnnBackendFinalize", PTR_IN);
        m.put("cudnnBackendExecute", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        return m;
    }

    /** Calls {@code function} and throws, naming it, {@code what} and cuDNN's error string, unless it succeeded. */
    void call(String function, String what, Object... args) {
        MethodHandle h = calls.get(function);
        if (h == null) {
            throw new IllegalArgumentException("no binding for " + function);
        }
        int status;
        try {
            status = (int) h.invokeWithArguments(args);
        } catch (Throwable t) {
            throw new IllegalStateException(function + " could not be called (" + what + ")", t);
        }
        check(status, function, what);
    }

    void check(int status, String function, String what) {
        if (status != STATUS_SUCCESS) {
            throw new CudnnException(function, status, describe(status), what);
        }
    }

    /** cuDNN's name for {@code status} (cudnnGetErrorString), with its number. */
    String describe(int status) {
        try {
            MemorySegment s = (MemorySegment) errorString.invokeExact(status);
            return s.equals(MemorySegment.NULL) ? "status " + status : s.reinterpret(256).getString(0) + " (" + status + ")";
        } catch (Throwable t) {
            return "status " + status;
        }
    }

    /** A cuDNN handle whose calls enqueue on {@code stream} (a CUstream), for {@code what}. */
    MemorySegment handleOnStream(long stream, String what) {
        MemorySegment handle = create("cudnnCreate", "a handle for " + what);
        try {
            call("cudnnSetStream", "the stream of " + what, handle, MemorySegment.ofAddress(stream));
        } catch (RuntimeException e) {
            call("cudnnDestroy", "after a failed cudnnSetStream", handle);
            throw e;
        }
        return handle;
    }

    /** A new object from {@code create} (one of the cudnnCreate* calls, which write it through a pointer). */
    MemorySegment create(String create, String what) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            call(create, what, out);
            return out.get(ADDRESS, 0);
        }
    }
}
