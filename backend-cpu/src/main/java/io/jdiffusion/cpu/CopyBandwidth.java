package io.jdiffusion.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Measures this machine's memory bandwidth on the benchmark's threads, the yardstick of memory-bound
 * operators (GroupNorm): each thread copies its share of a 256 MiB off-heap buffer (eight times any L3
 * here) to another; bytes moved count the read and the write.
 */
final class CopyBandwidth {
    private static final long BYTES = 256L << 20;

    private CopyBandwidth() {
    }

    /** Best GB/s (10^9 bytes read plus written per second) over a few rounds of about {@code seconds} in all. */
    static double measure(WorkerPool pool, double seconds) {
        try (Arena arena = Arena.ofShared()) { // shared: the pool's threads copy it
            MemorySegment src = arena.allocate(BYTES, 64), dst = arena.allocate(BYTES, 64);
            src.fill((byte) 1);
            dst.fill((byte) 0);
            int threads = pool.threads();
            long share = BYTES / threads / 64 * 64;
            double best = 0;
            long deadline = System.nanoTime() + (long) (Math.max(0.3, seconds) * 1e9);
            for (int round = 0; round < 3 || System.nanoTime() < deadline; round++) {
                long t0 = System.nanoTime();
                pool.forEach(threads, t -> MemorySegment.copy(src, t * share, dst, t * share, share));
                double s = (System.nanoTime() - t0) / 1e9;
                best = Math.max(best, 2.0 * share * threads / s / 1e9);
                if (round > 50) {
                    break;
                }
            }
            return best;
        }
    }
}
