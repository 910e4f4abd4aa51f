package io.jdiffusion.server;

import io.vertx.core.buffer.Buffer;
import io.vertx.ext.web.RoutingContext;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;

/**
 * The web page's files, read from the jar once at start-up and served from memory: a fixed set of names,
 * so no part of a request path ever reaches a file system.
 */
final class WebAssets {
    private static final String ROOT = "/io/jdiffusion/server/web/";
    private static final Map<String, String> TYPES = Map.of(
            "index.html", "text/html; charset=utf-8",
            "app.js", "text/javascript; charset=utf-8",
            "style.css", "text/css; charset=utf-8");

    private final Map<String, Buffer> files;

    WebAssets() {
        var loaded = new java.util.HashMap<String, Buffer>();
        for (String name : TYPES.keySet()) {
            try (InputStream in = WebAssets.class.getResourceAsStream(ROOT + name)) {
                if (in == null) {
                    throw new IllegalStateException("web asset " + name + " missing from the jar");
                }
                loaded.put(name, Buffer.buffer(in.readAllBytes()));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        files = Map.copyOf(loaded);
    }

    void page(RoutingContext ctx) {
        serve(ctx, "index.html");
    }

    /** {@code /static/NAME}: one of the page's files, or 404. */
    void asset(RoutingContext ctx) {
        String name = ctx.pathParam("name");
        if (name == null || !files.containsKey(name)) {
            HttpErrors.detail(ctx.response(), 404, "Not Found");
            return;
        }
        serve(ctx, name);
    }

    private void serve(RoutingContext ctx, String name) {
        ctx.response()
                .putHeader("Content-Type", TYPES.get(name))
                .putHeader("Cache-Control", "no-cache")
                .putHeader("X-Content-Type-Options", "nosniff")
                .end(files.get(name));
    }
}
