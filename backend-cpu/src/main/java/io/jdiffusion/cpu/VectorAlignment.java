package io.jdiffusion.cpu;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

import static io.jdiffusion.cpu.CpuVectors.F;
import static io.jdiffusion.cpu.CpuVectors.L;

/**
 * Where a Java float array's vectors start on whole-vector boundaries. The JVM aligns an array's elements
 * to 8 bytes only, so a kernel that walks an array by whole vectors from element 0 crosses a cache line
 * with every other load or store in three placements out of four. Measured on one AVX2 core (Zen 3):
 * attention over 4096 tokens ran 12% slower (68% against 78% of the FMA peak) when its per-thread tiles
 * started mid-vector, and which one a run got depended on where the heap put them.
 *
 * <p>Java has no address of a heap array; the one way to read it is to pass the array to native code,
 * which pins it for the call. {@code memmove(p, p, 0)} returns its argument unchanged, so a zero-length
 * call through the FFM linker with heap access gives the element's address at that moment. A later GC
 * may move the array, so callers ask again per run (a few tens of nanoseconds a call); a stale answer costs
 * speed, never correctness. Where the call is not available (no {@code memmove} in the default lookup,
 * native access not enabled: {@code --enable-native-access=ALL-UNNAMED}, which the launcher passes) every array
 * counts as aligned at element 0.
 */
final class VectorAlignment {
    private static final MethodHandle ADDRESS_OF = NativeFunctions.find("memmove",
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG),
            Linker.Option.critical(true));

    private VectorAlignment() {
    }

    /** Whether array addresses can be read here; without it {@link #firstAligned} is always 0. */
    static boolean available() {
        return ADDRESS_OF != null;
    }

    /**
     * The first element index in [0, L) of {@code a} whose address is a multiple of the vector size, for
     * use as a base offset: the caller allocates L - 1 spare elements. 0 where addresses cannot be read.
     */
    static int firstAligned(float[] a) {
        return ADDRESS_OF == null || a.length == 0 ? 0 : firstAligned(address(a));
    }

    /** The first float in [0, L) from {@code address} on a vector boundary. */
    static int firstAligned(long address) {
        long bytes = F.vectorByteSize();
        long misaligned = address % bytes;
        return misaligned == 0 ? 0 : (int) ((bytes - misaligned) / Float.BYTES) % L;
    }

    /** The address of element 0 of {@code a} at the moment of the call. */
    static long address(float[] a) {
        MemorySegment heap = MemorySegment.ofArray(a);
        try {
            return ((MemorySegment) ADDRESS_OF.invokeExact(heap, heap, 0L)).address();
        } catch (Throwable t) {
            throw new IllegalStateException("memmove for an array's address failed", t);
        }
    }
}
