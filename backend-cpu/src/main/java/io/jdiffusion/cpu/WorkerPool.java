package io.jdiffusion.cpu;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;

/**
 * A fixed pool of worker threads sized to the cores. {@link #forEach} hands out task indices from a
 * shared counter, so uneven tasks balance themselves, and the calling thread works too (a pool of n
 * threads keeps n - 1 workers).
 */
final class WorkerPool implements AutoCloseable {
    private final int threads;
    private final ExecutorService workers;

    WorkerPool(int threads) {
        this.threads = threads;
        this.workers = threads > 1
                ? Executors.newFixedThreadPool(threads - 1, r -> {
                    Thread t = new Thread(r, "jdiffusion-cpu");
                    t.setDaemon(true);
                    return t;
                })
                : null;
    }

    int threads() {
        return threads;
    }

    /** Runs {@code body} for every index in [0, tasks), spread over the pool; returns when all are done. */
    void forEach(int tasks, IntConsumer body) {
        if (tasks <= 0) {
            return;
        }
        int helpers = Math.min(threads - 1, tasks - 1);
        if (helpers <= 0) {
            for (int i = 0; i < tasks; i++) {
                body.accept(i);
            }
            return;
        }
        AtomicInteger next = new AtomicInteger();
        Runnable loop = () -> {
            for (int i = next.getAndIncrement(); i < tasks; i = next.getAndIncrement()) {
                body.accept(i);
            }
        };
        List<Future<?>> futures = new ArrayList<>(helpers);
        for (int h = 0; h < helpers; h++) {
            futures.add(workers.submit(loop));
        }
        Throwable failure = null;
        try {
            loop.run();
        } catch (Throwable t) {
            failure = t;
            next.set(tasks); // stop handing out work
        }
        for (Future<?> f : futures) {
            try {
                f.get();
            } catch (ExecutionException e) {
                if (failure == null) {
                    failure = e.getCause();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                if (failure == null) {
                    failure = e;
                }
            }
        }
        if (failure instanceof RuntimeException re) {
            throw re;
        }
        if (failure instanceof Error err) {
            throw err;
        }
        if (failure != null) {
            throw new IllegalStateException(failure);
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
        if (workers != null) {
            workers.shutdownNow();
        }
    }
}
