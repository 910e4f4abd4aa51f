package io.jdiffusion.backend;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Counts the bytes a backend holds (arenas, repacked or uploaded weights, device tensors) and their
 * high-water mark, for {@link Backend#deviceBytesInUse()} and {@link Backend#peakDeviceBytes()}.
 */
public final class MemoryMeter {
    private final AtomicLong inUse = new AtomicLong();
    private final AtomicLong peak = new AtomicLong();

    public void add(long bytes) {
        long now = inUse.addAndGet(bytes);
        peak.accumulateAndGet(now, Math::max);
    }

    public void release(long bytes) {
        inUse.addAndGet(-bytes);
    }

    public long inUse() {
        return inUse.get();
    }

    public long peak() {
        return peak.get();
    }
}
