package io.jdiffusion.server.jobs;

/** The queue holds as many waiting jobs as it may; the client should retry after the given seconds. */
public final class QueueFullException extends RuntimeException {
    private final int retryAfterSeconds;

    QueueFullException(int waiting, int retryAfterSeconds) {
        super("the queue is full (" + waiting + " jobs waiting); retry in about " + retryAfterSeconds + " s");
        this.retryAfterSeconds = retryAfterSeconds;
    }

    public int retryAfterSeconds() {
        return retryAfterSeconds;
    }
}
