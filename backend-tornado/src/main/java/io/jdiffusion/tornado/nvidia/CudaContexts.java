package io.jdiffusion.tornado.nvidia;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * The CUDA driver's current context, read on one thread and made current on another (libcuda's
 * {@code cuCtxGetCurrent} and {@code cuCtxSetCurrent} through FFM). TornadoVM's CUDA backend creates a context of
 * its own ({@code cuCtxCreate}, not the device's primary one) and makes it current on the threads it runs on; a
 * library called on any other thread would otherwise work in the primary context, where TornadoVM's streams and
 * buffers do not exist.
 */
final class CudaContexts {
    private static final String SONAME = "libcuda.so.1";

    private CudaContexts() {
    }

    /** The downcalls, bound when first used (libcuda is where TornadoVM's CUDA backend runs). */
    private static final class Native {
        private static final SymbolLookup LIB = SymbolLookup.libraryLookup(SONAME, Arena.global());
        static final MethodHandle GET_CURRENT = bind("cuCtxGetCurrent", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        static final MethodHandle SET_CURRENT = bind("cuCtxSetCurrent", FunctionDescriptor.of(JAVA_INT, ADDRESS));

        private static MethodHandle bind(String name, FunctionDescriptor d) {
            return Linker.nativeLinker().downcallHandle(LIB.find(name)
                    .orElseThrow(() -> new IllegalStateException(SONAME + " has no " + name)), d);
        }
    }

    /** The calling thread's current context (a CUcontext; NULL where none is current). */
    static MemorySegment current() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            int status = (int) Native.GET_CURRENT.invokeExact(out);
            check(status, "cuCtxGetCurrent");
            return out.get(ADDRESS, 0);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("cuCtxGetCurrent could not be called", t);
        }
    }

    /** Makes {@code context} (from {@link #current()}) the calling thread's current context. */
    static void makeCurrent(MemorySegment context) {
        try {
            int status = (int) Native.SET_CURRENT.invokeExact(context);
            check(status, "cuCtxSetCurrent");
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("cuCtxSetCurrent could not be called", t);
        }
    }

    private static void check(int status, String call) {
        if (status != 0) {
            throw new IllegalStateException(call + " failed with CUresult " + status);
        }
    }
}
