package io.jdiffusion.server;

import io.jdiffusion.server.api.RequestLimits;

/**
 * How the server listens and what it accepts.
 *
 * @param host      interface to bind (loopback unless told otherwise)
 * @param port      TCP port (0: any free one, for tests)
 * @param queueSize jobs that may wait behind the running one
 * @param apiKey    when set, every route but the page and its assets needs {@code Authorization: Bearer KEY}
 * @param limits    per-request limits (body size, image size, pixels, images, steps)
 */
public record ServerSettings(String host, int port, int queueSize, String apiKey, RequestLimits limits) {
    public static final String DEFAULT_HOST = "127.0.0.1";
    public static final int DEFAULT_PORT = 7860;
    public static final int DEFAULT_QUEUE_SIZE = 16;

    public ServerSettings {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be in [0, 65535], got " + port);
        }
        if (queueSize < 1) {
            throw new IllegalArgumentException("queue size must be at least 1, got " + queueSize);
        }
        if (apiKey != null && apiKey.isBlank()) {
            throw new IllegalArgumentException("the API key must not be blank");
        }
    }
}
