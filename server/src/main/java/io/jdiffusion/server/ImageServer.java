package io.jdiffusion.server;

import io.jdiffusion.server.api.InvalidRequestException;
import io.jdiffusion.server.jobs.GenerationQueue;
import io.jdiffusion.server.jobs.ImageGenerator;
import io.jdiffusion.server.jobs.JobRunner;
import io.jdiffusion.server.jobs.ProgressState;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.file.FileSystemOptions;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;

import java.util.concurrent.ExecutionException;

/**
 * {@code jdiffusion serve}: AUTOMATIC1111's API routes, OpenAI's image generation route and a web page, in
 * front of one {@link ImageGenerator} that runs one job at a time from a bounded queue.
 *
 * <p>HTTP is Vert.x (Netty): it keeps reading every connection while a request waits, so a client that
 * hangs up is noticed at once and its queued job dropped. Handlers that parse bodies (base64 images) run on
 * Vert.x's worker pool; the event loop only routes and writes.
 */
public final class ImageServer implements AutoCloseable {
    private final Vertx vertx;
    private final HttpServer http;
    private final GenerationQueue queue;

    private ImageServer(Vertx vertx, HttpServer http, GenerationQueue queue) {
        this.vertx = vertx;
        this.http = http;
        this.queue = queue;
    }

    /** Starts listening; returns once the port is bound. */
    public static ImageServer start(ServerSettings settings, ImageGenerator generator) {
        // Vert.x would copy class-path files into a cache folder in the working directory; the page is served
        // from memory instead (WebAssets), so both are off.
        Vertx vertx = Vertx.vertx(new VertxOptions().setFileSystemOptions(
                new FileSystemOptions().setFileCachingEnabled(false).setClassPathResolvingEnabled(false)));
        ProgressState progress = new ProgressState(generator::latentPreview);
        GenerationQueue queue = new GenerationQueue(settings.queueSize(), new JobRunner(generator, progress));
        try {
            Router router = router(vertx, settings, generator, queue, progress);
            HttpServer http = vertx.createHttpServer(new HttpServerOptions()
                            .setHost(settings.host())
                            .setPort(settings.port())
                            .setMaxFormAttributeSize(1024)
                            .setCompressionSupported(false))
                    .requestHandler(router);
            http.listen().toCompletionStage().toCompletableFuture().get();
            return new ImageServer(vertx, http, queue);
        } catch (InterruptedException | ExecutionException | RuntimeException e) {
            queue.close();
            vertx.close();
            Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
            throw new IllegalStateException("cannot listen on " + settings.host() + ":" + settings.port() + ": "
                    + cause.getMessage(), cause);
        }
    }

    private static Router router(Vertx vertx, ServerSettings settings, ImageGenerator generator, GenerationQueue queue,
                                 ProgressState progress) {
        String version = "jdiffusion " + java.util.Objects.requireNonNullElse(
                ImageServer.class.getPackage().getImplementationVersion(), "dev");
        GenerationRoutes generation = new GenerationRoutes(queue, generator, settings.limits(), version);
        InfoRoutes info = new InfoRoutes(progress, generator, queue);
        WebAssets assets = new WebAssets();

        Router router = Router.router(vertx);
        router.route().handler(RequestGuards.loopbackHost(settings.host()));
        router.get("/").handler(assets::page);
        router.get("/static/:name").handler(assets::asset);

        Handler<RoutingContext> auth = RequestGuards.apiKey(settings.apiKey());
        // The key is checked before the body is read, so an unauthenticated client cannot make the server buffer.
        router.route("/sdapi/*").handler(auth);
        router.route("/v1/*").handler(auth);
        BodyHandler body = BodyHandler.create(false).setBodyLimit(settings.limits().maxBodyBytes());
        // On every method, so that a path no route serves is 404 (not 405 from a POST-only body route).
        router.route("/sdapi/*").handler(body);
        router.route("/v1/*").handler(body);
        router.route("/sdapi/*").handler(RequestGuards::requireJson);
        router.route("/v1/*").handler(RequestGuards::requireJson);

        router.post("/sdapi/v1/txt2img").blockingHandler(generation::txt2img, false);
        router.post("/sdapi/v1/img2img").blockingHandler(generation::img2img, false);
        router.post("/v1/images/generations").blockingHandler(generation::openAiGenerations, false);
        router.get("/sdapi/v1/progress").handler(info::progress);
        router.post("/sdapi/v1/interrupt").handler(info::interrupt);
        router.post("/sdapi/v1/skip").handler(info::skip);
        router.get("/sdapi/v1/sd-models").handler(info::sdModels);
        router.get("/sdapi/v1/samplers").handler(info::samplers);
        router.get("/sdapi/v1/schedulers").handler(info::schedulers);
        router.get("/sdapi/v1/options").handler(info::getOptions);
        router.post("/sdapi/v1/options").blockingHandler(info::setOptions, false);
        router.get("/sdapi/v1/memory").handler(info::memory);
        router.get("/sdapi/v1/loras").blockingHandler(info::loras, false);
        router.post("/sdapi/v1/refresh-loras").handler(info::refreshLoras);

        router.errorHandler(413, ctx -> HttpErrors.detail(ctx.response(), 413,
                "request body exceeds the limit of " + settings.limits().maxBodyBytes() + " bytes"));
        router.errorHandler(404, ctx -> HttpErrors.detail(ctx.response(), 404, "Not Found"));
        router.errorHandler(405, ctx -> HttpErrors.detail(ctx.response(), 405, "Method Not Allowed"));
        router.errorHandler(500, ctx -> {
            Throwable failure = ctx.failure();
            if (failure instanceof InvalidRequestException e) {
                HttpErrors.invalid(ctx.response(), e, ctx.request().path().startsWith("/v1/"));
            } else {
                HttpErrors.failure(ctx.response(), 500, failure == null ? "Error" : failure.getClass().getSimpleName(),
                        failure == null ? "internal error" : String.valueOf(failure.getMessage()));
            }
        });
        return router;
    }

    /** The port listened on (the one chosen when the settings said 0). */
    public int port() {
        return http.actualPort();
    }

    public GenerationQueue queue() {
        return queue;
    }

    /** Stops listening, ends waiting jobs with 503, lets the running job stop at its next step. */
    @Override
    public void close() {
        // The queue first, so waiting clients still get their 503 over open connections.
        queue.close();
        try {
            http.close().toCompletionStage().toCompletableFuture().get();
            vertx.close().toCompletionStage().toCompletableFuture().get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            // Stopped anyway: nothing is left to answer.
        }
    }
}
