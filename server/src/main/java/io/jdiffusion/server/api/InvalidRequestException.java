package io.jdiffusion.server.api;

import io.jdiffusion.core.OneLine;

/**
 * A request the server will not run, with the field at fault ("body" for the request as a whole) and the
 * HTTP status that says why: 422 for a value of the wrong type or out of range (as FastAPI answers for
 * AUTOMATIC1111), 404 for a name that names nothing (a sampler, a checkpoint), 413 for an image too large.
 */
public final class InvalidRequestException extends RuntimeException {
    /** Longest message: a quoted value may be as long as the body. */
    private static final int MAX_MESSAGE_CHARS = 1000;
    private final String field;
    private final int status;

    public InvalidRequestException(String field, String message) {
        this(422, field, message);
    }

    public InvalidRequestException(int status, String field, String message) {
        // Messages quote what the client sent (a sampler name, say): a line break or control character in it
        // must not split the line that logs and clients read.
        super(field + ": " + (message == null ? "" : OneLine.of(message, MAX_MESSAGE_CHARS)));
        this.field = field;
        this.status = status;
    }

    /** The JSON field at fault, e.g. {@code steps} or {@code init_images[0]}; "body" for the whole body. */
    public String field() {
        return field;
    }

    public int status() {
        return status;
    }

    /** The message without the field name. */
    public String reason() {
        return getMessage().substring(field.length() + 2);
    }
}
