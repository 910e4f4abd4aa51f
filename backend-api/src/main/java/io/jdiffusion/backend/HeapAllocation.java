package io.jdiffusion.backend;

import java.lang.management.ManagementFactory;

/**
 * The Java heap bytes a fixed set of threads has allocated since a starting point, for measuring what a
 * network call costs the collector: a backend's worker threads allocate on behalf of the caller, so the
 * caller's own count is not enough. A thread counts only while it is alive at both readings (one that ends
 * in between takes its count with it; one that starts is not in the set).
 */
public final class HeapAllocation {
    private final long[] ids;
    private final long[] start;

    private HeapAllocation(long[] ids) {
        this.ids = ids;
        this.start = read(ids);
    }

    /** Counts from now for the threads {@code ids}. */
    public static HeapAllocation since(long[] ids) {
        return new HeapAllocation(ids);
    }

    /** Counts from now for every thread alive now (the JVM's compiler and GC threads allocate no Java objects). */
    public static HeapAllocation sinceForAllThreads() {
        return new HeapAllocation(ManagementFactory.getThreadMXBean().getAllThreadIds());
    }

    /** Heap bytes the threads allocated since this was made, or -1 where the JVM does not count them. */
    public long bytes() {
        long[] now = read(ids);
        if (now == null) {
            return -1;
        }
        long sum = 0;
        for (int i = 0; i < ids.length; i++) { // a loop: the reading itself allocates only its array
            if (start[i] >= 0 && now[i] >= 0) {
                sum += now[i] - start[i];
            }
        }
        return sum;
    }

    /** Per thread, the bytes allocated so far (-1 for a thread not alive); null where the JVM does not count them. */
    private static long[] read(long[] ids) {
        if (!(ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean mx)
                || !mx.isThreadAllocatedMemorySupported()) {
            return null;
        }
        if (!mx.isThreadAllocatedMemoryEnabled()) {
            mx.setThreadAllocatedMemoryEnabled(true);
        }
        return mx.getThreadAllocatedBytes(ids);
    }
}
