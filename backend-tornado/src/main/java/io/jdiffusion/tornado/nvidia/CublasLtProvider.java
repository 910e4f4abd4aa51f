package io.jdiffusion.tornado.nvidia;

import uk.ac.manchester.tornado.api.common.Access;
import uk.ac.manchester.tornado.api.common.LibraryTaskDescriptor;
import uk.ac.manchester.tornado.api.types.arrays.TornadoNativeArray;
import uk.ac.manchester.tornado.runtime.library.spi.LibraryContext;
import uk.ac.manchester.tornado.runtime.library.spi.LibraryInvocation;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * TornadoVM library tasks {@value #LIBRARY}/{@value #MATMUL}: one cuBLASLt product ({@link LtMatmul}) on operands at
 * element offsets of TornadoVM arrays, on the execution plan's CUDA stream. TornadoVM hands a library task only each
 * array's device base pointer; the offsets ride in the task's tuning object, so a product reads and writes the
 * activation arena in place. Registered through META-INF/services; found only on TornadoVM's CUDA backend (the
 * one whose devices expose their stream).
 *
 * <p>{@link #dispatch} runs while the plan's first execution is captured into a CUDA graph: it allocates no device
 * memory and never synchronises. Descriptors and the heuristic's algorithm are made once per product shape and
 * operand alignment (host-only calls) and kept in the plan's context; the workspace is an array parameter of the
 * task, which TornadoVM allocates before the capture.
 */
public final class CublasLtProvider extends StreamLibraryProvider {
    public static final String LIBRARY = "jdiffusion/cublaslt";
    public static final String MATMUL = "matmul";
    /** Products enqueued in this JVM (a replayed CUDA graph enqueues none): how tests see which library ran. */
    private static final AtomicLong DISPATCHES = new AtomicLong();

    /**
     * The library task of {@code product} over {@code arrays} (the task's parameters, each array once: TornadoVM's
     * scheduler stalls on a task that names one array twice). Arrays that D or the workspace use are read-write.
     */
    public static LibraryTaskDescriptor matmul(LtMatmul product, Object[] arrays) {
        if (arrays.length != product.parameterCount()) {
            throw new IllegalArgumentException(product + " uses " + product.parameterCount() + " array parameters, not " + arrays.length);
        }
        Access[] access = new Access[arrays.length];
        for (int i = 0; i < arrays.length; i++) {
            access[i] = product.writes(i) ? Access.READ_WRITE : Access.READ_ONLY;
        }
        return new LibraryTaskDescriptor().withLibrary(LIBRARY).withFunction(MATMUL).withParameters(arrays.clone()).withAccess(access)
                .withTuning(product);
    }

    public CublasLtProvider() {
        super(LIBRARY, MATMUL);
    }

    @Override
    LibraryContext createContext(long stream, long executionPlanId) {
        return new Context(CublasLt.create(), stream);
    }

    @Override
    void dispatch(LibraryInvocation invocation) {
        LtMatmul p = (LtMatmul) invocation.getTuning();
        Context context = (Context) invocation.getContext();
        long a = p.inputPointer(p.a(), invocation.getDevicePointer(p.a().parameter()));
        long b = p.inputPointer(p.b(), invocation.getDevicePointer(p.b().parameter()));
        long d = p.outputPointer(p.d(), invocation.getDevicePointer(p.d().parameter()));
        long c = p.c() == null ? d : p.outputPointer(p.c(), invocation.getDevicePointer(p.c().parameter()));
        long bias = p.bias() == null ? 0 : p.outputPointer(p.bias(), invocation.getDevicePointer(p.bias().parameter()));
        Workspace ws = Workspace.of(invocation.getDevicePointer(p.workspace()),
                ((TornadoNativeArray) invocation.getArg(p.workspace())).getNumBytesOfSegment());
        PlanKey key = PlanKey.of(p, a, b, c, d, bias, ws.bytes());
        Plan plan = context.plans.get(key);
        if (plan == null) {
            plan = Plan.create(context, key, bias, p.toString());
            context.plans.put(key, plan);
        }
        if (bias != 0) {
            CublasLt.descSetLong(plan.desc, CublasLt.MATMUL_DESC_BIAS_POINTER, bias);
        }
        DISPATCHES.incrementAndGet();
        CublasLt.matmul(context.handle, plan.desc, 1f, a, plan.aLayout, b, plan.bLayout, p.beta(), c, plan.cdLayout, d, plan.cdLayout,
                plan.algo, ws.pointer(), ws.bytes(), context.stream, p.toString());
    }

    /** Products dispatched in this JVM so far. */
    public static long dispatches() {
        return DISPATCHES.get();
    }

    @Override
    public void destroyContext(LibraryContext context) {
        Context c = (Context) context;
        for (Plan plan : c.plans.values()) {
            plan.destroy();
        }
        c.plans.clear();
        c.arena.close();
        CublasLt.destroy(c.handle);
    }

    /** A workspace array's usable part: from its first 256-byte boundary, a whole number of 256-byte blocks. */
    record Workspace(long pointer, long bytes) {
        static Workspace of(long base, long bytes) {
            long aligned = (base + LtMatmul.MAX_ALIGNMENT - 1) & -LtMatmul.MAX_ALIGNMENT;
            long usable = Math.max(0, bytes - (aligned - base)) & -LtMatmul.MAX_ALIGNMENT;
            return new Workspace(aligned, usable);
        }
    }

    /** What the descriptors and the algorithm depend on: the product without its offsets, and each pointer's alignment. */
    record PlanKey(LtMatmul.ElementType type, LtMatmul.ElementType outType, LtMatmul.Order order, int m, int n, int k, boolean transA,
                   boolean transB, int lda, int ldb, int ldd, LtMatmul.Batch batch, boolean hasC, boolean hasBias, int alignA, int alignB,
                   int alignC, int alignD, int alignBias, long workspaceBytes) {
        static PlanKey of(LtMatmul p, long a, long b, long c, long d, long bias, long workspaceBytes) {
            return new PlanKey(p.type(), p.outType(), p.order(), p.m(), p.n(), p.k(), p.transA(), p.transB(), p.lda(), p.ldb(), p.ldd(),
                    p.batch(), p.c() != null, bias != 0,
                    LtMatmul.alignment(a), LtMatmul.alignment(b), LtMatmul.alignment(c), LtMatmul.alignment(d),
                    bias == 0 ? 0 : LtMatmul.alignment(bias), workspaceBytes);
        }
    }

    private static final class Context implements LibraryContext {
        private final long handle;
        private final long stream;
        private final Arena arena = Arena.ofShared();
        private final Map<PlanKey, Plan> plans = new HashMap<>();

        private Context(long handle, long stream) {
            this.handle = handle;
            this.stream = stream;
        }
    }

    /** The descriptors of one product shape and the algorithm cuBLASLt's heuristic chose for it. */
    private record Plan(long desc, long aLayout, long bLayout, long cdLayout, MemorySegment algo) {
        static Plan create(Context context, PlanKey key, long biasPointer, String what) {
            int type = key.type().cudaType();
            int outType = key.outType().cudaType();
            long desc = CublasLt.descCreate(CublasLt.CUBLAS_COMPUTE_32F, CublasLt.CUDA_R_32F);
            long aLayout = 0;
            long bLayout = 0;
            long cdLayout = 0;
            long pref = 0;
            boolean made = false;
            try {
                CublasLt.descSetInt(desc, CublasLt.MATMUL_DESC_TRANSA, key.transA() ? CublasLt.CUBLAS_OP_T : CublasLt.CUBLAS_OP_N);
                CublasLt.descSetInt(desc, CublasLt.MATMUL_DESC_TRANSB, key.transB() ? CublasLt.CUBLAS_OP_T : CublasLt.CUBLAS_OP_N);
                if (key.hasBias()) {
                    CublasLt.descSetInt(desc, CublasLt.MATMUL_DESC_EPILOGUE, CublasLt.EPILOGUE_BIAS);
                    CublasLt.descSetLong(desc, CublasLt.MATMUL_DESC_BIAS_POINTER, biasPointer);
                }
                LtMatmul.Batch batch = key.batch();
                aLayout = layout(type, key.transA() ? key.k() : key.m(), key.transA() ? key.m() : key.k(), key.lda(), key.order(), batch,
                        batch.strideA());
                bLayout = layout(type, key.transB() ? key.n() : key.k(), key.transB() ? key.k() : key.n(), key.ldb(), key.order(), batch,
                        batch.strideB());
                cdLayout = layout(outType, key.m(), key.n(), key.ldd(), key.order(), batch, batch.strideD());
                pref = CublasLt.preferenceCreate();
                CublasLt.preferenceSetLong(pref, CublasLt.PREF_MAX_WORKSPACE_BYTES, key.workspaceBytes());
                CublasLt.preferenceSetInt(pref, CublasLt.PREF_MIN_ALIGNMENT_A_BYTES, key.alignA());
                CublasLt.preferenceSetInt(pref, CublasLt.PREF_MIN_ALIGNMENT_B_BYTES, key.alignB());
                CublasLt.preferenceSetInt(pref, CublasLt.PREF_MIN_ALIGNMENT_C_BYTES, key.alignC());
                CublasLt.preferenceSetInt(pref, CublasLt.PREF_MIN_ALIGNMENT_D_BYTES, key.alignD());
                MemorySegment algo = context.arena.allocate(CublasLt.ALGO_BYTES, 8);
                CublasLt.bestAlgorithm(context.handle, desc, aLayout, bLayout, cdLayout, cdLayout, pref, algo, what + " (" + key + ")");
                made = true;
                return new Plan(desc, aLayout, bLayout, cdLayout, algo);
            } finally {
                if (pref != 0) {
                    CublasLt.preferenceDestroy(pref);
                }
                if (!made) {
                    new Plan(desc, aLayout, bLayout, cdLayout, null).destroy();
                }
            }
        }

        /** A matrix layout of the product: in its order, with the batch's count and this matrix's stride where batched. */
        private static long layout(int type, long rows, long cols, long ld, LtMatmul.Order order, LtMatmul.Batch batch, long stride) {
            long layout = CublasLt.layoutCreate(type, rows, cols, ld);
            try {
                if (order == LtMatmul.Order.ROW) {
                    CublasLt.layoutSetInt(layout, CublasLt.LAYOUT_ORDER, CublasLt.ORDER_ROW);
                }
                if (batch.count() > 1) {
                    CublasLt.layoutSetInt(layout, CublasLt.LAYOUT_BATCH_COUNT, batch.count());
                    CublasLt.layoutSetLong(layout, CublasLt.LAYOUT_STRIDED_BATCH_OFFSET, stride);
                }
                return layout;
            } catch (RuntimeException e) {
                CublasLt.layoutDestroy(layout);
                throw e;
            }
        }

        void destroy() {
            for (long layout : new long[]{aLayout, bLayout, cdLayout}) {
                if (layout != 0) {
                    CublasLt.layoutDestroy(layout);
                }
            }
            CublasLt.descDestroy(desc);
        }
    }
}
