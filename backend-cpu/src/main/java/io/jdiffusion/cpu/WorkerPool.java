package io.jdiffusion.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntConsumer;

/**
 * A fixed pool of worker threads sized to the cores. {@link #forEach} hands out task indices from a
 * shared counter, so uneven tasks balance themselves, and the calling thread works too (a pool of n
 * threads keeps n - 1 workers).
 *
 * <p>A network call is a long chain of operators, each one parallel job, often well under a millisecond.
 * So idle workers spin for a short while before they park, and pick up the next job without the tens of
 * microseconds a park/unpark round trip costs; the caller likewise spins briefly before parking while the
 * last tasks finish. A job started from inside a task, or while another thread's job holds the pool, runs
 * in the calling thread alone.
 */
final class WorkerPool implements AutoCloseable {
    /** How long an idle thread spins for new work (or the caller for the last tasks) before parking. */
    private static final long SPIN_NANOS = 200_000;
    private static final ThreadLocal<Boolean> IN_POOL = ThreadLocal.withInitial(() -> Boolean.FALSE);

    private final int threads;
    private final Thread[] workers;
    private final ReentrantLock owner = new ReentrantLock();
    private volatile Job current;
    private volatile boolean closed;

    /** One forEach call: its tasks, the next unclaimed index and how many have finished. */
    private static final class Job {
        final IntConsumer body;
        final int tasks;
        final Thread caller;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger finished = new AtomicInteger();
        volatile Throwable failure;

        Job(IntConsumer body, int tasks, Thread caller) {
            this.body = body;
            this.tasks = tasks;
            this.caller = caller;
        }

        /** Claims and runs tasks until none is left; after a failure the rest are skipped, but still counted. */
        void work() {
            for (int i = next.getAndIncrement(); i < tasks; i = next.getAndIncrement()) {
                try {
                    if (failure == null) {
                        body.accept(i);
                    }
                } catch (Throwable t) {
                    failure = t;
                } finally {
                    if (finished.incrementAndGet() == tasks) {
                        LockSupport.unpark(caller);
                    }
                }
            }
        }
    }

    WorkerPool(int threads) {
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            Thread t = new Thread(this::workerLoop, "jdiffusion-cpu-" + (i + 1));
            t.setDaemon(true);
            workers[i] = t;
            t.start();
        }
    }

    int threads() {
        return threads;
    }

    /** The ids of the worker threads (the caller of {@link #forEach} is the pool's other thread). */
    long[] workerIds() {
        return java.util.Arrays.stream(workers).mapToLong(Thread::threadId).toArray();
    }

    private void workerLoop() {
        IN_POOL.set(Boolean.TRUE);
        Job seen = null;
        while (!closed) {
            Job job = current;
            long idleSince = System.nanoTime();
            while (job == null || job == seen) {
                if (closed) {
                    return;
                }
                if (System.nanoTime() - idleSince < SPIN_NANOS) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.park(this);
                }
                job = current;
            }
            seen = job;
            job.work();
        }
    }

    /** Runs {@code body} for every index in [0, tasks), spread over the pool; returns when all are done. */
    void forEach(int tasks, IntConsumer body) {
        if (tasks <= 0) {
            return;
        }
        if (tasks == 1 || workers.length == 0 || IN_POOL.get() || !owner.tryLock()) {
            for (int i = 0; i < tasks; i++) {
                body.accept(i);
            }
            return;
        }
        try {
            Job job = new Job(body, tasks, Thread.currentThread());
            current = job;
            for (Thread w : workers) {
                LockSupport.unpark(w);
            }
            IN_POOL.set(Boolean.TRUE);
            try {
                job.work();
            } finally {
                IN_POOL.set(Boolean.FALSE);
            }
            long waitingSince = System.nanoTime();
            while (job.finished.get() < tasks) {
                if (System.nanoTime() - waitingSince < SPIN_NANOS) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.park(this);
                }
            }
            current = null;
            Throwable failure = job.failure;
            if (failure instanceof RuntimeException re) {
                throw re;
            }
            if (failure instanceof Error err) {
                throw err;
            }
            if (failure != null) {
                throw new IllegalStateException(failure);
            }
        } finally {
            owner.unlock();
        }
    }

    /** Splits [0, n) into about {@code threads * perThread} chunks and runs {@code body(from, to)} on each. */
    void forRange(long n, int perThread, RangeBody body) {
        if (n <= 0) {
            return;
        }
        int chunks = (int) Math.max(1, Math.min(n, (long) threads * perThread));
        long size = (n + chunks - 1) / chunks;
        int count = (int) ((n + size - 1) / size);
        forEach(count, c -> body.run(c * size, Math.min(n, (c + 1) * size)));
    }

    @FunctionalInterface
    interface RangeBody {
        void run(long from, long to);
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) {
            LockSupport.unpark(w);
        }
    }
}
