package io.jdiffusion.server;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.cpu.CpuBackend;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.models.pipeline.GenerationRequest;
import io.jdiffusion.models.pipeline.MemoryPolicy;
import io.jdiffusion.models.pipeline.ProgressListener;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.server.api.JsonFields;
import io.jdiffusion.server.api.ModelFacts;
import io.jdiffusion.server.api.RequestLimits;
import io.jdiffusion.server.jobs.ImageGenerator;
import io.jdiffusion.server.jobs.LatentPreview;
import io.jdiffusion.server.jobs.LoraFolder;
import io.jdiffusion.server.jobs.CheckpointFolder;
import io.jdiffusion.server.jobs.ModelSwitcher;
import io.jdiffusion.core.io.FileHashes;
import io.jdiffusion.testdata.TinySd;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * The server on a free loopback port in front of the bundled tiny model on the CPU backend, and an HTTP
 * client for it. A prompt of "out of memory" makes the generator throw OutOfMemoryError, as a device out
 * of memory would, so tests can see the server fail that job and keep serving.
 */
final class TinyServer implements AutoCloseable {
    static final String OOM_PROMPT = "out of memory";

    final CpuBackend backend;
    final ModelSwitcher models;
    final ImageServer server;
    final String apiKey;
    final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    /** The server over {@code checkpoints}, loading {@code checkpoints.first()}. */
    TinyServer(int queueSize, String apiKey, RequestLimits limits, CheckpointFolder checkpoints) {
        this.apiKey = apiKey;
        backend = new CpuBackend();
        models = new ModelSwitcher(checkpoints, c -> StableDiffusion.load(c.path(), null), backend, Precision.F32, m -> MemoryPolicy.WARM,
                new LoraFolder(TinySd.root().resolve("tiny-sd-lora/lora")));
        server = ImageServer.start(new ServerSettings("127.0.0.1", 0, queueSize, apiKey, limits), new OutOfMemoryOnCue(models));
    }

    TinyServer(int queueSize, String apiKey, RequestLimits limits) {
        this(queueSize, apiKey, limits, new CheckpointFolder(null, TinySd.modelDir(), FileHashes.userCache()));
    }

    TinyServer(int queueSize) {
        this(queueSize, null, RequestLimits.DEFAULTS);
    }

    URI uri(String path) {
        return URI.create("http://127.0.0.1:" + server.port() + path);
    }

    HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(120));
        if (apiKey != null) {
            b.header("Authorization", "Bearer " + apiKey);
        }
        return b;
    }

    HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return client.send(request(path).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> post(String path, String json) throws IOException, InterruptedException {
        return client.send(request(path).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json, StandardCharsets.UTF_8)).build(), HttpResponse.BodyHandlers.ofString());
    }

    static JsonNode json(HttpResponse<String> response) throws IOException {
        return JsonFields.mapper().readTree(response.body());
    }

    @Override
    public void close() {
        server.close();
        models.close();
        backend.close();
    }

    /** The real generator, except that a prompt of {@link #OOM_PROMPT} throws OutOfMemoryError as a device could. */
    private record OutOfMemoryOnCue(ImageGenerator inner) implements ImageGenerator {
        @Override
        public ModelFacts model() {
            return inner.model();
        }

        @Override
        public CheckpointFolder checkpoints() {
            return inner.checkpoints();
        }

        @Override
        public CheckpointFolder.Checkpoint loaded() {
            return inner.loaded();
        }

        @Override
        public void load(CheckpointFolder.Checkpoint checkpoint) {
            inner.load(checkpoint);
        }

        @Override
        public LoraFolder loras() {
            return inner.loras();
        }

        @Override
        public LatentPreview latentPreview() {
            return inner.latentPreview();
        }

        @Override
        public Image generate(GenerationRequest request, java.util.Map<String, Object> infotext, ProgressListener listener) {
            if (request.prompt().prompt().equals(OOM_PROMPT)) {
                throw new OutOfMemoryError("device out of memory: 8589934592 bytes requested");
            }
            return inner.generate(request, infotext, listener);
        }

        @Override
        public DeviceMemory memory() {
            return inner.memory();
        }
    }
}
