package io.jdiffusion.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * One heap scratch array per thread, for work done inside {@link WorkerPool} tasks (packed operand
 * blocks, a transpose tile, a chunk of activations): each thread's array grows to the largest request
 * and then stays, so a steady-state network call allocates nothing for it. A {@code new float[]} per
 * task instead costs the collector megabytes per UNet call (a 4 KiB transpose tile per task alone was
 * 3.7 MB per SD 1.5 call at 256x256).
 *
 * <p>Each use site holds its own instance: a thread may hold several sites' arrays at once (a GEMM task
 * packs its A block while the caller's whole packed A is alive), never two uses of one site. The
 * contents are left from the previous use; callers write before they read.
 */
final class ThreadScratch {
    private final ThreadLocal<float[][]> floats = ThreadLocal.withInitial(() -> new float[1][0]);
    private final ThreadLocal<int[][]> ints = ThreadLocal.withInitial(() -> new int[1][0]);
    private final ThreadLocal<MemorySegment[]> segments = ThreadLocal.withInitial(() -> new MemorySegment[] {MemorySegment.NULL});

    /** The calling thread's float array of this site, at least {@code size} long. */
    float[] floats(int size) {
        float[][] h = floats.get();
        if (h[0].length < size) {
            h[0] = new float[size];
        }
        return h[0];
    }

    /**
     * The calling thread's off-heap block of this site, at least {@code bytes} long and 64-byte aligned, for kernels
     * that read it through the segment overloads (freed by the collector with the thread's reference).
     */
    MemorySegment segment(long bytes) {
        MemorySegment[] h = segments.get();
        if (h[0].byteSize() < bytes) {
            h[0] = Arena.ofAuto().allocate(bytes, 64);
        }
        return h[0];
    }

    /** The calling thread's int array of this site, at least {@code size} long. */
    int[] ints(int size) {
        int[][] h = ints.get();
        if (h[0].length < size) {
            h[0] = new int[size];
        }
        return h[0];
    }
}
