package io.jdiffusion.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.jdiffusion.server.api.JsonFields;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;

/** Writes JSON answers; a response whose client has gone is dropped quietly. */
final class Responses {
    private Responses() {
    }

    static void json(HttpServerResponse response, Object body) {
        byte[] bytes;
        try {
            bytes = JsonFields.mapper().writeValueAsBytes(body);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("response not serializable", e);
        }
        if (response.ended() || response.closed()) {
            return;
        }
        response.putHeader("Content-Type", "application/json").end(Buffer.buffer(bytes));
    }
}
