package io.jdiffusion.server.jobs;

import io.jdiffusion.server.api.ImageJob;
import io.jdiffusion.server.api.InvalidRequestException;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * A bounded FIFO in front of one worker thread that runs jobs one at a time on the backend. A full queue
 * refuses at once (the caller answers 503 with Retry-After); a job whose client went away leaves the queue
 * unrun, or stops at its next step if it is running. Every submitted job ends exactly once through its
 * callback: done, failed (an out-of-memory error fails the job, not the server) or cancelled.
 */
public final class GenerationQueue implements AutoCloseable {
    /** A submitted job; its callback runs exactly once. */
    public static final class Ticket {
        private final ImageJob job;
        private final Consumer<JobOutcome> onEnd;
        private final AtomicBoolean ended = new AtomicBoolean();
        private volatile boolean cancelled;

        private Ticket(ImageJob job, Consumer<JobOutcome> onEnd) {
            this.job = job;
            this.onEnd = onEnd;
        }

        private void end(JobOutcome outcome) {
            if (ended.compareAndSet(false, true)) {
                job.close();
                onEnd.accept(outcome);
            }
        }
    }

    private final BlockingQueue<Ticket> waiting;
    /** Work that must run on the job thread but is no job (a checkpoint switch): before the next job starts. */
    private final BlockingQueue<Between> betweenJobs = new LinkedBlockingQueue<>();
    private final JobRunner runner;
    private final Thread worker;
    private volatile boolean closed;
    /** Moving average of recent job durations, for Retry-After. */
    private volatile double averageJobSeconds = 5;

    public GenerationQueue(int capacity, JobRunner runner) {
        if (capacity < 1) {
            throw new IllegalArgumentException("queue size must be at least 1, got " + capacity);
        }
        this.waiting = new ArrayBlockingQueue<>(capacity);
        this.runner = runner;
        this.worker = Thread.ofPlatform().name("jdiffusion-generation").daemon().start(this::work);
    }

    /**
     * Queues a job. The callback runs on the worker thread (or on the caller's, for a cancel).
     *
     * @throws QueueFullException when {@code capacity} jobs are waiting already (the job is closed)
     */
    public Ticket submit(ImageJob job, Consumer<JobOutcome> onEnd) {
        Ticket ticket = new Ticket(job, onEnd);
        if (closed || !waiting.offer(ticket)) {
            job.close();
            throw new QueueFullException(waiting.size(), retryAfterSeconds());
        }
        return ticket;
    }

    /**
     * Runs {@code task} on the job thread once the running job has ended, before the next waiting job
     * starts. The future ends with the task (exceptionally when it threw, or when the server stops first).
     */
    public CompletableFuture<Void> runBetweenJobs(Runnable task) {
        Between pending = new Between(task, new CompletableFuture<>());
        betweenJobs.add(pending);
        // Closed meanwhile: the worker may be gone, so nobody else would end it.
        if (closed && betweenJobs.remove(pending)) {
            pending.done().completeExceptionally(new IllegalStateException("the server is stopping"));
        }
        return pending.done();
    }

    /** A task for the job thread and what its caller waits on. */
    private record Between(Runnable task, CompletableFuture<Void> done) {
        void run() {
            try {
                task.run();
                done.complete(null);
            } catch (RuntimeException | Error e) {
                done.completeExceptionally(e);
            }
        }
    }

    /** Its client is gone: a waiting job is dropped, a running one stops at its next step. */
    public void cancel(Ticket ticket) {
        ticket.cancelled = true;
        if (waiting.remove(ticket)) {
            ticket.end(new JobOutcome.Cancelled("client disconnected while queued"));
        }
    }

    public int waitingJobs() {
        return waiting.size();
    }

    public JobRunner runner() {
        return runner;
    }

    private int retryAfterSeconds() {
        double seconds = averageJobSeconds * (waiting.size() + 1);
        return (int) Math.max(1, Math.min(3600, Math.ceil(seconds)));
    }

    private void work() {
        while (!closed) {
            Between task;
            while ((task = betweenJobs.poll()) != null) {
                task.run();
            }
            Ticket ticket;
            try {
                ticket = waiting.poll(50, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                return;
            }
            if (ticket != null && !ticket.cancelled) {
                run(ticket);
            } else if (ticket != null) {
                ticket.end(new JobOutcome.Cancelled("client disconnected while queued"));
            }
        }
    }

    private void run(Ticket ticket) {
        long start = System.nanoTime();
        JobOutcome outcome;
        try {
            JobResult result = runner.run(ticket.job, () -> ticket.cancelled || closed);
            outcome = ticket.cancelled ? new JobOutcome.Cancelled("client disconnected while running")
                    : new JobOutcome.Done(result);
        } catch (OutOfMemoryError e) {
            outcome = new JobOutcome.Failed(500, "OutOfMemoryError", "out of memory while generating (" + e.getMessage()
                    + "); try a smaller size or fewer images per request");
        } catch (InvalidRequestException e) {
            outcome = new JobOutcome.Failed(e.status(), "InvalidRequest", e.getMessage());
        } catch (CheckpointLoadException e) {
            outcome = new JobOutcome.Failed(500, "CheckpointLoadError", e.getMessage());
        } catch (IllegalArgumentException e) {
            outcome = new JobOutcome.Failed(422, "IllegalArgumentException", e.getMessage());
        } catch (RuntimeException | StackOverflowError e) {
            outcome = new JobOutcome.Failed(500, e.getClass().getSimpleName(), String.valueOf(e.getMessage()));
        }
        averageJobSeconds = 0.7 * averageJobSeconds + 0.3 * (System.nanoTime() - start) / 1e9;
        try {
            ticket.end(outcome);
        } catch (RuntimeException e) {
            // Answering failed (the connection is gone, say): the job itself has ended, the worker goes on.
        }
    }

    /** Stops taking jobs, stops the running one at its next step, and ends the waiting ones as cancelled. */
    @Override
    public void close() {
        closed = true;
        try {
            worker.join(TimeUnit.MINUTES.toMillis(2));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Between task;
        while ((task = betweenJobs.poll()) != null) {
            task.done().completeExceptionally(new IllegalStateException("the server is stopping"));
        }
        Ticket t;
        while ((t = waiting.poll()) != null) {
            t.end(new JobOutcome.Failed(503, "ServiceUnavailable", "the server is stopping"));
        }
    }
}
