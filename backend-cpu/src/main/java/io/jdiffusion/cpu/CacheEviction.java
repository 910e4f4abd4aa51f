package io.jdiffusion.cpu;

/**
 * Empties the caches between an operator benchmark's timed runs.
 *
 * <p>A benchmark that runs one operator again and again finds that operator's weights, inputs and output in cache.
 * Inside a network the operator finds them in memory, since the layers before it have walked over gigabytes. Every
 * thread of the pool writes one long per cache line over its share of a buffer several times the size of the last
 * level cache, which also empties each core's private L2.
 */
final class CacheEviction {
    /** 128 MiB: four times the 32 MiB L3 of the Zen 5 this was measured on. */
    static final long BYTES = 128L << 20;
    private static final int LONGS_PER_LINE = 64 / Long.BYTES;

    /** A field, so that the JIT keeps every store: the writes are what evicts. */
    private final long[] lines = new long[Math.toIntExact(BYTES / Long.BYTES)];

    /** Writes every cache line of the buffer, spread over the pool's threads. */
    void evict(WorkerPool pool) {
        int count = lines.length / LONGS_PER_LINE;
        pool.forRange(count, 4, (from, to) -> {
            for (long line = from; line < to; line++) {
                lines[(int) line * LONGS_PER_LINE]++;
            }
        });
    }
}
