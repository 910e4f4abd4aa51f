package io.jdiffusion.cpu;

import java.util.concurrent.atomic.AtomicLong;

/** Counts the bytes a backend holds (arenas, repacked weights, device tensors) and their high-water mark. */
final class MemoryMeter {
    private final AtomicLong inUse = new AtomicLong();
    private final AtomicLong peak = new AtomicLong();

    void add(long bytes) {
        long now = inUse.addAndGet(bytes);
        peak.accumulateAndGet(now, Math::max);
    }

    void release(long bytes) {
        inUse.addAndGet(-bytes);
    }

    long inUse() {
        return inUse.get();
    }

    long peak() {
        return peak.get();
    }
}
