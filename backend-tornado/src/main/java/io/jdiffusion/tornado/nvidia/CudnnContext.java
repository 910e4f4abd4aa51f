package io.jdiffusion.tornado.nvidia;

import uk.ac.manchester.tornado.runtime.library.spi.LibraryContext;

import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.function.Function;

/**
 * A cuDNN handle on one execution plan's stream and the plans of the shapes it has seen, made once each (in the
 * provider's prepare, before any CUDA-graph capture) and destroyed with the handle.
 *
 * @param <K> what a plan is made for (its shape and options)
 * @param <P> the plan
 */
final class CudnnContext<K, P> implements LibraryContext {
    private final MemorySegment handle;
    private final Map<K, P> plans = new HashMap<>();

    CudnnContext(long stream, long executionPlanId) {
        this.handle = CudnnConv.get().handleOnStream(stream, "execution plan " + executionPlanId);
    }

    MemorySegment handle() {
        return handle;
    }

    /** The plan for {@code key}, made by {@code create} (given the handle) the first time. */
    P plan(K key, Function<MemorySegment, P> create) {
        return plans.computeIfAbsent(key, k -> create.apply(handle));
    }

    /** Destroys every plan with {@code destroy}, then the handle. */
    void destroy(BiConsumer<CudnnConv, P> destroy) {
        CudnnConv cudnn = CudnnConv.get();
        for (P p : plans.values()) {
            destroy.accept(cudnn, p);
        }
        plans.clear();
        cudnn.call("cudnnDestroy", "the handle of a finished execution plan", handle);
    }
}
