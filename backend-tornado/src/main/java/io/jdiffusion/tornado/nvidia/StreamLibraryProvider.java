package io.jdiffusion.tornado.nvidia;

import uk.ac.manchester.tornado.runtime.common.TornadoXPUDevice;
import uk.ac.manchester.tornado.runtime.library.spi.LibraryContext;
import uk.ac.manchester.tornado.runtime.library.spi.LibraryInvocation;
import uk.ac.manchester.tornado.runtime.library.spi.TornadoLibraryProvider;
import uk.ac.manchester.tornado.runtime.library.spi.TornadoNativeStreamSupport;

/**
 * A library provider of jdiffusion's own with one function, whose calls join each execution plan's native stream
 * (TornadoVM's CUDA backend): devices without such streams are not its own, a context is made from the plan's
 * stream, and a call to any other function fails naming the library.
 */
abstract class StreamLibraryProvider implements TornadoLibraryProvider {
    private final String library;
    private final String function;

    StreamLibraryProvider(String library, String function) {
        this.library = library;
        this.function = function;
    }

    @Override
    public final String libraryName() {
        return library;
    }

    @Override
    public final boolean canHandle(TornadoXPUDevice device) {
        return device instanceof TornadoNativeStreamSupport;
    }

    @Override
    public final LibraryContext createContext(TornadoXPUDevice device, long executionPlanId) {
        return createContext(((TornadoNativeStreamSupport) device).getNativeStream(executionPlanId), executionPlanId);
    }

    /** The context of execution plan {@code executionPlanId}, whose calls go to {@code stream} (a CUstream). */
    abstract LibraryContext createContext(long stream, long executionPlanId);

    @Override
    public final void dispatch(String functionName, LibraryInvocation invocation) {
        if (!function.equals(functionName)) {
            throw new IllegalArgumentException(library + " has no function " + functionName);
        }
        dispatch(invocation);
    }

    /**
     * Enqueues one call of the function on the context's stream; on a plan's first run that is inside its CUDA-graph
     * capture, so nothing here may allocate device memory or synchronise.
     */
    abstract void dispatch(LibraryInvocation invocation);
}
