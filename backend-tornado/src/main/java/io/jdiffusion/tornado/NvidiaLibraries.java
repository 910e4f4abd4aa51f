package io.jdiffusion.tornado;

import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.util.List;
import java.util.Optional;

/**
 * Whether the NVIDIA libraries behind TornadoVM's cuBLAS and cuDNN bindings load here. Those bindings' own
 * native libraries link against these sonames (CUDA 13, cuDNN 9) and are loaded only at the first library call,
 * so without this check a machine with TornadoVM's CUDA backend but without cuDNN would fail in the middle of
 * its first run instead of choosing the Java kernels. Loaded the way the dynamic linker will (dlopen by soname,
 * so LD_LIBRARY_PATH and the linker cache count), once per JVM.
 */
final class NvidiaLibraries {
    static final List<String> SONAMES = List.of("libcublas.so.13", "libcublasLt.so.13", "libcudnn.so.9");
    private static final Optional<String> MISSING = firstMissing(SONAMES);

    private NvidiaLibraries() {
    }

    /** The first of {@link #SONAMES} that does not load, or empty when all do. */
    static Optional<String> missing() {
        return MISSING;
    }

    static Optional<String> firstMissing(List<String> sonames) {
        for (String soname : sonames) {
            try {
                SymbolLookup.libraryLookup(soname, Arena.global());
            } catch (IllegalArgumentException e) {
                return Optional.of(soname);
            }
        }
        return Optional.empty();
    }
}
