package io.jdiffusion.server;

import io.vertx.core.Handler;
import io.vertx.core.net.HostAndPort;
import io.vertx.ext.web.RoutingContext;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Locale;

/**
 * Checks every request passes before a route runs: the API key, the Host a loopback server answers to,
 * and the body's media type. The last two keep web pages in a browser from driving a server on the same
 * machine: a page on another site can send only form or text bodies without the browser asking first (so
 * JSON is required, as FastAPI requires it for A1111), and a site that rebinds its own name to 127.0.0.1
 * still sends its name as Host.
 */
final class RequestGuards {
    private RequestGuards() {
    }

    /** With a key: {@code Authorization: Bearer KEY}, compared in constant time; without one: every client. */
    static Handler<RoutingContext> apiKey(String apiKey) {
        if (apiKey == null) {
            return RoutingContext::next;
        }
        byte[] expected = ("Bearer " + apiKey).getBytes(StandardCharsets.UTF_8);
        return ctx -> {
            String header = ctx.request().getHeader("Authorization");
            if (header != null && MessageDigest.isEqual(expected, header.strip().getBytes(StandardCharsets.UTF_8))) {
                ctx.next();
                return;
            }
            ctx.response().putHeader("WWW-Authenticate", "Bearer");
            if (ctx.request().path().startsWith("/v1/")) {
                HttpErrors.openAi(ctx.response(), 401, "missing or wrong API key (Authorization: Bearer KEY)", null);
            } else {
                HttpErrors.detail(ctx.response(), 401, "Not authenticated: send Authorization: Bearer KEY");
            }
        };
    }

    /** A server bound to loopback answers only requests addressed to a loopback name. */
    static Handler<RoutingContext> loopbackHost(String boundHost) {
        if (!isLoopback(boundHost)) {
            return RoutingContext::next;
        }
        return ctx -> {
            HostAndPort authority = ctx.request().authority();
            if (authority == null || isLoopback(authority.host())) {
                ctx.next();
                return;
            }
            HttpErrors.detail(ctx.response(), 403, "Host '" + authority.host() + "' is not served: the server listens on "
                    + boundHost + " and answers requests for localhost only (see --host)");
        };
    }

    /** A body, when there is one, must be JSON. */
    static void requireJson(RoutingContext ctx) {
        String type = ctx.request().getHeader("Content-Type");
        boolean hasBody = ctx.body().length() > 0;
        if (!hasBody || type == null || isJson(type)) {
            ctx.next();
            return;
        }
        HttpErrors.detail(ctx.response(), 415, "Content-Type must be application/json, got " + type);
    }

    static boolean isLoopback(String host) {
        String h = host.toLowerCase(Locale.ROOT);
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        return h.equals("localhost") || h.endsWith(".localhost") || h.equals("::1") || h.matches("127(\\.\\d{1,3}){3}");
    }

    private static boolean isJson(String contentType) {
        String media = contentType.split(";", 2)[0].strip().toLowerCase(Locale.ROOT);
        return media.equals("application/json") || media.endsWith("+json");
    }
}
