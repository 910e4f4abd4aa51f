package io.jdiffusion.core.testing;

import java.lang.management.ManagementFactory;

/**
 * What every fuzz target asserts about the code it feeds: the input is accepted, or refused with the
 * project's own exception type and a one-line message; nothing else is thrown; and the call allocates no
 * more heap than a bound proportional to the input plus a fixed cap, and returns within {@link #TIME_LIMIT_NANOS}.
 */
public final class FuzzContract {
    /**
     * Heap any one call may allocate beyond {@link #BYTES_PER_INPUT_BYTE} per input byte: the first call of a
     * target also initialises classes (Jackson, the image decoders), which takes tens of MiB once.
     */
    public static final long FIXED_ALLOCATION_CAP = 256L << 20;
    /** Heap per input byte: JSON trees and decoded text take a small multiple of their source. */
    public static final long BYTES_PER_INPUT_BYTE = 64;
    /** Wall time any one call may take: generous, since the machine may be busy, but far below a hang. */
    public static final long TIME_LIMIT_NANOS = 10_000_000_000L;

    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    /** A call under test; it may throw anything, and the contract says what is allowed. */
    @FunctionalInterface
    public interface Call {
        void run() throws Exception;
    }

    private FuzzContract() {
    }

    /**
     * Runs {@code call} on an input of {@code inputBytes} bytes: it must return or throw a {@code refusal}
     * whose message is one non-blank line, and allocate at most the bound. Any other throwable fails the
     * target (Jazzer reports it as a finding and keeps the input).
     */
    public static void check(Class<? extends Exception> refusal, long inputBytes, Call call) {
        long before = THREADS.getCurrentThreadAllocatedBytes();
        long start = System.nanoTime();
        try {
            call.run();
        } catch (Exception e) {
            if (!refusal.isInstance(e)) {
                throw new AssertionError("refused with " + e.getClass().getName() + " instead of "
                        + refusal.getSimpleName() + ": " + e.getMessage(), e);
            }
            String message = e.getMessage();
            if (message == null || message.isBlank() || message.contains("\n") || message.contains("\r")) {
                throw new AssertionError("a refusal must say why in one line, got: " + message, e);
            }
        }
        long elapsed = System.nanoTime() - start;
        if (elapsed > TIME_LIMIT_NANOS) {
            throw new AssertionError("took " + elapsed / 1_000_000 + " ms for a " + inputBytes + "-byte input");
        }
        long allocated = THREADS.getCurrentThreadAllocatedBytes() - before;
        long bound = FIXED_ALLOCATION_CAP + BYTES_PER_INPUT_BYTE * inputBytes;
        if (allocated > bound) {
            throw new AssertionError("allocated " + allocated + " bytes for a " + inputBytes + "-byte input (bound " + bound + ")");
        }
    }
}
