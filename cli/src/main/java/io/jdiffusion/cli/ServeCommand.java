package io.jdiffusion.cli;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.models.pipeline.ImageRuntime;
import io.jdiffusion.server.ImageServer;
import io.jdiffusion.server.ServerSettings;
import io.jdiffusion.server.api.RequestLimits;
import io.jdiffusion.server.jobs.LoraFolder;
import io.jdiffusion.server.jobs.CheckpointFolder;
import io.jdiffusion.server.jobs.ModelSwitcher;
import io.jdiffusion.core.io.FileHashes;
import io.jdiffusion.models.sd.LoadOptions;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/** {@code jdiffusion serve}: the model loaded once behind AUTOMATIC1111's and OpenAI's HTTP APIs and a web page. */
@Command(name = "serve", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Serve the model over HTTP: AUTOMATIC1111's /sdapi/v1 routes, OpenAI's /v1/images/generations, "
                + "and a web page at /. The model is loaded once; each image size is compiled once and kept.",
                "Stop with Ctrl-C."})
final class ServeCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--host", defaultValue = ServerSettings.DEFAULT_HOST,
            description = "Interface to listen on (default ${DEFAULT-VALUE}: this machine only; 0.0.0.0 for all).")
    String host;

    @Option(names = "--port", defaultValue = "" + ServerSettings.DEFAULT_PORT, description = "TCP port (default ${DEFAULT-VALUE}, A1111's).")
    int port;

    @Option(names = "--queue-size", defaultValue = "" + ServerSettings.DEFAULT_QUEUE_SIZE,
            description = "Requests that may wait behind the running one; more get 503 with Retry-After (default ${DEFAULT-VALUE}).")
    int queueSize;

    @Option(names = "--api-key", paramLabel = "KEY",
            description = "Require 'Authorization: Bearer KEY' on every route but the page (default: no key). "
                    + "Also read from JDIFFUSION_API_KEY, which keeps it out of the process list.")
    String apiKey;

    @Option(names = "--lora-dir", paramLabel = "DIR",
            description = "Folder of LoRA .safetensors files that <lora:NAME:WEIGHT> tags in prompts may name (and /sdapi/v1/loras lists).")
    Path loraDir;

    @Option(names = "--model-dir", paramLabel = "DIR",
            description = "Folder of checkpoints (A1111's models/Stable-diffusion): every .safetensors file and diffusers "
                    + "folder directly inside it. Clients list them (/sdapi/v1/sd-models) and switch between them "
                    + "(/sdapi/v1/options, override_settings); one is loaded at a time. --model names the first one "
                    + "(default: the first in the folder by name).")
    Path modelDir;

    @Mixin
    ModelOptions modelOptions;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        // the server reads init images and writes PNGs through javax.imageio: fail at start, not at the first request
        ImageRuntime.require();
        String key = apiKey != null ? apiKey : System.getenv("JDIFFUSION_API_KEY");
        ServerSettings settings = new ServerSettings(host, port, queueSize, key, RequestLimits.DEFAULTS);
        if (!isLoopback(host) && key == null) {
            err.println("jdiffusion: warning: listening on " + host + " without --api-key: anyone who can reach it can use it");
        }
        if (loraDir != null && !Files.isDirectory(loraDir)) {
            throw new NoSuchFileException(loraDir.toString(), null, "--lora-dir must be a folder");
        }
        if (modelDir != null && !Files.isDirectory(modelDir)) {
            throw new NoSuchFileException(modelDir.toString(), null, "--model-dir must be a folder");
        }
        ModelOptions mo = modelOptions;
        mo.precision();
        mo.memoryBudgetBytes();
        Path first = firstModel(mo);
        CheckpointFolder checkpoints = new CheckpointFolder(modelDir, first, FileHashes.userCache());
        try (Backend backend = mo.createBackend();
             ModelSwitcher models = new ModelSwitcher(checkpoints, c -> load(mo, checkpoints, c), backend, mo.precision(),
                     mo::memoryPolicy, new LoraFolder(loraDir))) {
            if (modelDir == null && mo.usesBundledModel()) {
                err.println("jdiffusion: serving the bundled tiny model: its weights are random, so images are noise. Pass --model for a real SD 1.5/2.x model.");
            }
            CountDownLatch stopped = new CountDownLatch(1);
            try (ImageServer server = ImageServer.start(settings, models)) {
                Thread hook = new Thread(() -> {
                    server.close();
                    stopped.countDown();
                });
                Runtime.getRuntime().addShutdownHook(hook);
                String shown = host.contains(":") ? "[" + host + "]" : host;
                spec.commandLine().getOut().printf("jdiffusion: %s on %s (%s), serving http://%s:%d/ (queue %d%s)%n",
                        checkpoints.first().name() + (modelDir == null ? "" : " (" + checkpoints.list().size()
                                + " checkpoints in --model-dir)"), backend.name(), backend.deviceDescription(), shown, server.port(), queueSize,
                        key != null ? ", API key required" : "");
                spec.commandLine().getOut().flush();
                stopped.await();
            }
        }
        return 0;
    }

    /** --model; with --model-dir and no --model, the folder's first checkpoint; a --model not found may be a name in it. */
    private Path firstModel(ModelOptions mo) throws NoSuchFileException {
        if (modelDir != null && mo.model == null) {
            return CheckpointFolder.scan(modelDir).stream().map(CheckpointFolder.Checkpoint::path).findFirst()
                    .orElseThrow(() -> new NoSuchFileException(modelDir.toString(), null,
                            "--model-dir holds no .safetensors file or diffusers folder"));
        }
        if (modelDir != null && !Files.exists(mo.model)) {
            String name = mo.model.toString();
            var inFolder = CheckpointFolder.scan(modelDir).stream().filter(c -> c.name().equals(name)).findFirst();
            if (inFolder.isPresent()) {
                return inFolder.get().path();
            }
        }
        return mo.modelPath();
    }

    /** --model with --config and --prediction-type as given; the folder's other checkpoints with what lies beside them. */
    private static StableDiffusion load(ModelOptions mo, CheckpointFolder checkpoints, CheckpointFolder.Checkpoint c) {
        if (c.equals(checkpoints.first())) {
            return StableDiffusion.loadWith(c.path(), LoadOptions.builder().configFolder(mo.config)
                    .predictionType(mo.predictionType).build());
        }
        return StableDiffusion.loadWith(c.path(), LoadOptions.builder().build());
    }

    private static boolean isLoopback(String host) {
        return host.equals("127.0.0.1") || host.equals("localhost") || host.equals("::1");
    }
}
