package io.jdiffusion.tornado.nvidia;

import uk.ac.manchester.tornado.api.common.LibraryTaskDescriptor;
import uk.ac.manchester.tornado.runtime.library.spi.LibraryContext;

import java.lang.foreign.MemorySegment;

/**
 * A cuDNN library provider whose tasks each carry a tuning record {@code T} and run a plan {@code P} made once per
 * key {@code K} and execution plan: the plan is made in {@link #prepare}, before TornadoVM captures the plan's
 * first run into a CUDA graph (on a thread of its own while TornadoVM compiles on, inside
 * {@link BackgroundPlans#overlapping}), looked up again at dispatch, and destroyed with the context's cuDNN handle
 * ({@link CudnnContext}).
 */
abstract class CudnnPlanProvider<T, K, P> extends StreamLibraryProvider {
    private final Class<T> tuningType;

    CudnnPlanProvider(String library, String function, Class<T> tuningType) {
        super(library, function);
        this.tuningType = tuningType;
    }

    /** What {@code t}'s plan is made for: tasks with equal keys share a plan. */
    abstract K key(T t);

    /** Makes {@code t}'s plan on {@code handle} (a call to record it for logs belongs here). */
    abstract P create(CudnnConv cudnn, MemorySegment handle, T t);

    /** Frees what {@link #create} made. */
    abstract void destroy(CudnnConv cudnn, P plan);

    @Override
    final LibraryContext createContext(long stream, long executionPlanId) {
        return new CudnnContext<K, P>(stream, executionPlanId);
    }

    @Override
    public final void prepare(LibraryTaskDescriptor descriptor, LibraryContext context) {
        T t = tuning(descriptor.getTuning());
        context(context).prepare(key(t), handle -> create(CudnnConv.get(), handle, t));
    }

    /** {@code t}'s plan in {@code context}: made in prepare (waited for if still under way), looked up after. */
    final P plan(CudnnContext<K, P> context, T t) {
        return context.plan(key(t), handle -> create(CudnnConv.get(), handle, t));
    }

    @Override
    public final void destroyContext(LibraryContext context) {
        context(context).destroy(this::destroy);
    }

    @SuppressWarnings("unchecked")
    final CudnnContext<K, P> context(LibraryContext context) {
        return (CudnnContext<K, P>) context;
    }

    /** The task's tuning record, or one error naming the library and the record it lacks. */
    final T tuning(Object tuning) {
        if (tuningType.isInstance(tuning)) {
            return tuningType.cast(tuning);
        }
        throw new IllegalArgumentException(libraryName() + " task without its " + tuningType.getSimpleName() + " tuning: " + tuning);
    }
}
