package io.jdiffusion.server;

import io.jdiffusion.server.api.A1111Requests;
import io.jdiffusion.server.api.ImageJob;
import io.jdiffusion.server.api.InvalidRequestException;
import io.jdiffusion.server.api.ModelFacts;
import io.jdiffusion.server.api.OpenAiRequests;
import io.jdiffusion.server.api.RequestLimits;
import io.jdiffusion.server.jobs.GenerationQueue;
import io.jdiffusion.server.jobs.ImageGenerator;
import io.jdiffusion.server.jobs.JobOutcome;
import io.jdiffusion.server.jobs.QueueFullException;
import io.vertx.core.Context;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;

/**
 * txt2img, img2img and OpenAI generations: the body is mapped to a job (on a worker thread: it may decode an
 * image), queued, and answered when the job ends. A full queue answers 503 with Retry-After at once; a
 * client that disconnects cancels its job.
 */
final class GenerationRoutes {
    /** Which request mapping a route uses. */
    @FunctionalInterface
    interface Mapping {
        ImageJob map(byte[] body, ModelFacts model, RequestLimits limits);
    }

    private final GenerationQueue queue;
    private final ImageGenerator generator;
    private final RequestLimits limits;
    private final String version;

    GenerationRoutes(GenerationQueue queue, ImageGenerator generator, RequestLimits limits, String version) {
        this.queue = queue;
        this.generator = generator;
        this.limits = limits;
        this.version = version;
    }

    void txt2img(RoutingContext ctx) {
        handle(ctx, A1111Requests::txt2img, false);
    }

    void img2img(RoutingContext ctx) {
        handle(ctx, A1111Requests::img2img, false);
    }

    void openAiGenerations(RoutingContext ctx) {
        handle(ctx, OpenAiRequests::generations, true);
    }

    private void handle(RoutingContext ctx, Mapping mapping, boolean openAi) {
        HttpServerResponse response = ctx.response();
        Context context = ctx.vertx().getOrCreateContext();
        ImageJob job;
        try {
            job = mapping.map(ctx.body().buffer() == null ? new byte[0] : ctx.body().buffer().getBytes(), generator.model(), limits);
            checkCheckpoint(job);
        } catch (InvalidRequestException e) {
            HttpErrors.invalid(response, e, openAi);
            return;
        }
        GenerationQueue.Ticket ticket;
        try {
            ticket = queue.submit(job, outcome -> context.runOnContext(v -> answer(response, job, outcome, openAi)));
        } catch (QueueFullException e) {
            response.putHeader("Retry-After", Integer.toString(e.retryAfterSeconds()));
            if (openAi) {
                HttpErrors.openAi(response, 503, e.getMessage(), null);
            } else {
                HttpErrors.failure(response, 503, "QueueFull", e.getMessage());
            }
            return;
        }
        response.closeHandler(v -> queue.cancel(ticket));
        if (response.closed()) {
            queue.cancel(ticket);
        }
    }

    /** A checkpoint named in override_settings must be one of the server's: 404 at once, before queueing. */
    private void checkCheckpoint(ImageJob job) {
        if (job.checkpoint() != null && generator.checkpoints().find(job.checkpoint()).isEmpty()) {
            job.close();
            throw new InvalidRequestException(404, "override_settings.sd_model_checkpoint", "checkpoint '" + job.checkpoint()
                    + "' not found; GET /sdapi/v1/sd-models lists them");
        }
    }

    private void answer(HttpServerResponse response, ImageJob job, JobOutcome outcome, boolean openAi) {
        switch (outcome) {
            case JobOutcome.Done done -> Responses.json(response, openAi ? A1111Responses.openAi(job, done.result())
                    : A1111Responses.a1111(job, done.result(), version));
            case JobOutcome.Failed failed -> {
                if (openAi) {
                    HttpErrors.openAi(response, failed.status(), failed.message(), null);
                } else {
                    HttpErrors.failure(response, failed.status(), failed.error(), failed.message());
                }
            }
            case JobOutcome.Cancelled cancelled -> HttpErrors.failure(response, 503, "Cancelled", cancelled.reason());
        }
    }
}
