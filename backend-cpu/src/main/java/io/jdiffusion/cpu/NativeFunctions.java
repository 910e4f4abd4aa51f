package io.jdiffusion.cpu;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;

/**
 * C library functions the CPU backend calls where it may ({@link VectorAlignment}'s {@code memmove},
 * {@link HugePages}' {@code mmap}/{@code madvise}/{@code munmap}): each only buys speed, so a function that cannot
 * be called here is simply absent. Native access is asked about first, because linking a downcall where it was not
 * granted prints a JVM warning (JDK 25: --illegal-native-access=warn): an application embedding the library without
 * {@code --enable-native-access} gets the slower path instead of a warning.
 */
final class NativeFunctions {
    private NativeFunctions() {
    }

    /** A downcall to {@code name} from the default lookup, or {@code null} where native access, the symbol or linking is missing. */
    static MethodHandle find(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        if (!NativeFunctions.class.getModule().isNativeAccessEnabled()) {
            return null;
        }
        try {
            Linker linker = Linker.nativeLinker();
            return linker.defaultLookup().find(name).map(f -> linker.downcallHandle(f, descriptor, options)).orElse(null);
        } catch (RuntimeException e) { // IllegalCallerException where native access is denied, UnsupportedOperationException
            return null;
        }
    }
}
