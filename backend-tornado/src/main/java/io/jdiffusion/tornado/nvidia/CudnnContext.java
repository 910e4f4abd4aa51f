package io.jdiffusion.tornado.nvidia;

import uk.ac.manchester.tornado.runtime.library.spi.LibraryContext;

import java.lang.foreign.MemorySegment;
import java.util.function.BiConsumer;
import java.util.function.Function;

/**
 * A cuDNN handle on one execution plan's stream and the plans of the shapes it has seen, made once each (in the
 * provider's prepare, before any CUDA-graph capture; in the background while the caller compiles on, where it asked
 * for that with {@link BackgroundPlans#overlapping}) and destroyed with the handle.
 *
 * @param <K> what a plan is made for (its shape and options)
 * @param <P> the plan
 */
final class CudnnContext<K, P> implements LibraryContext {
    private final MemorySegment handle;
    private final BackgroundPlans<K, P> plans;

    CudnnContext(long stream, long executionPlanId) {
        this.handle = CudnnConv.get().handleOnStream(stream, "execution plan " + executionPlanId);
        // TornadoVM made its CUDA context current on this thread; the builder thread needs the same one
        MemorySegment cudaContext = CudaContexts.current();
        this.plans = new BackgroundPlans<>("cudnn-plans-" + executionPlanId, () -> CudaContexts.makeCurrent(cudaContext));
    }

    MemorySegment handle() {
        return handle;
    }

    /** Has the plan for {@code key} made by {@code create} (given the handle), in the background where that is asked for. */
    void prepare(K key, Function<MemorySegment, P> create) {
        plans.submit(key, () -> create.apply(handle));
    }

    /** The plan for {@code key}: the one prepared (waited for if under way), or made now by {@code create}. */
    P plan(K key, Function<MemorySegment, P> create) {
        return plans.plan(key, () -> create.apply(handle));
    }

    /** Destroys every plan with {@code destroy} (waiting for builds under way), then the handle. */
    void destroy(BiConsumer<CudnnConv, P> destroy) {
        CudnnConv cudnn = CudnnConv.get();
        plans.close(p -> destroy.accept(cudnn, p));
        cudnn.call("cudnnDestroy", "the handle of a finished execution plan", handle);
    }
}
