package io.jdiffusion.tornado;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Brackets a region with the CUDA driver's {@code cuProfilerStart}/{@code cuProfilerStop}, so that Nsight Compute
 * started with {@code --profile-from-start off} records only the kernels of that region (one warm network call,
 * not the first run's compilation or cuDNN's algorithm search). Outside a profiler both calls do nothing.
 */
final class CudaProfilerRange {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup CUDA = SymbolLookup.libraryLookup("libcuda.so.1", Arena.global());
    private static final MethodHandle START = bind("cuProfilerStart");
    private static final MethodHandle STOP = bind("cuProfilerStop");

    private CudaProfilerRange() {
    }

    static void start() {
        check("cuProfilerStart", START);
    }

    static void stop() {
        check("cuProfilerStop", STOP);
    }

    private static MethodHandle bind(String name) {
        return LINKER.downcallHandle(CUDA.find(name).orElseThrow(() -> new IllegalStateException(name + " not in libcuda.so.1")),
                FunctionDescriptor.of(JAVA_INT));
    }

    private static void check(String name, MethodHandle call) {
        int status;
        try {
            status = (int) call.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException(name + " failed", t);
        }
        if (status != 0) {
            throw new IllegalStateException(name + " returned CUresult " + status);
        }
    }
}
