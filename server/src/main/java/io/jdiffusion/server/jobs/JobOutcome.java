package io.jdiffusion.server.jobs;

/** How an accepted job ended; every accepted job ends exactly once. */
public sealed interface JobOutcome {
    /** Images made (all of them, or those finished before an interrupt). */
    record Done(JobResult result) implements JobOutcome {
    }

    /** The job failed; {@code status} is the HTTP status to answer, {@code message} says why in one line. */
    record Failed(int status, String error, String message) implements JobOutcome {
    }

    /** Its client went away or the server is stopping: nobody is waiting for images. */
    record Cancelled(String reason) implements JobOutcome {
    }
}
