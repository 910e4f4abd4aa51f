package io.jdiffusion.server;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdiffusion.server.api.InvalidRequestException;
import io.jdiffusion.server.api.JsonFields;
import io.vertx.core.http.HttpServerResponse;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Error bodies in the shapes clients of each API parse: FastAPI's {@code {"detail": [{"loc", "msg", "type"}]}}
 * for A1111 validation errors, A1111's {@code {"error", "detail", "body", "errors"}} for failures, and
 * OpenAI's {@code {"error": {"message", "type", "param", "code"}}} on /v1 routes.
 */
final class HttpErrors {
    private static final Pattern PATH_PART = Pattern.compile("([^.\\[\\]]+)|\\[(\\d+)]");

    private HttpErrors() {
    }

    static void invalid(HttpServerResponse response, InvalidRequestException e, boolean openAi) {
        if (openAi) {
            openAi(response, e.status(), e.getMessage(), e.field());
            return;
        }
        ObjectNode body = JsonFields.mapper().createObjectNode();
        if (e.status() == 422) {
            ObjectNode item = body.putArray("detail").addObject();
            ArrayNode loc = item.putArray("loc").add("body");
            Matcher m = PATH_PART.matcher(e.field());
            while (m.find()) {
                if (m.group(2) != null) {
                    loc.add(Integer.parseInt(m.group(2)));
                } else if (!m.group(1).equals("body")) {
                    loc.add(m.group(1));
                }
            }
            item.put("msg", e.getMessage());
            item.put("type", "value_error");
        } else {
            body.put("detail", e.getMessage());
        }
        send(response, e.status(), body);
    }

    /** A1111's shape for errors that are not validation errors. */
    static void failure(HttpServerResponse response, int status, String error, String message) {
        ObjectNode body = JsonFields.mapper().createObjectNode();
        body.put("error", error);
        body.put("detail", message);
        body.put("body", "");
        body.put("errors", message);
        send(response, status, body);
    }

    /** A plain {"detail": message}, as FastAPI answers 401, 404, 405 and 413. */
    static void detail(HttpServerResponse response, int status, String message) {
        ObjectNode body = JsonFields.mapper().createObjectNode();
        body.put("detail", message);
        send(response, status, body);
    }

    static void openAi(HttpServerResponse response, int status, String message, String param) {
        ObjectNode body = JsonFields.mapper().createObjectNode();
        ObjectNode error = body.putObject("error");
        error.put("message", message);
        error.put("type", status >= 500 ? "server_error" : "invalid_request_error");
        if (param == null) {
            error.putNull("param");
        } else {
            error.put("param", param);
        }
        error.putNull("code");
        send(response, status, body);
    }

    static void send(HttpServerResponse response, int status, Object body) {
        Responses.json(response.setStatusCode(status), body);
    }
}
