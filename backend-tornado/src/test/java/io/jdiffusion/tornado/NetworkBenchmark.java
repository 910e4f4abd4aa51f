package io.jdiffusion.tornado;

import io.jdiffusion.models.unet.UNetCall;
import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import io.jdiffusion.backend.DeviceTensor;
import io.jdiffusion.backend.Executable;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.testdata.TinySd;

import io.jdiffusion.tornado.nvidia.CudnnAttentionProvider;
import io.jdiffusion.tornado.nvidia.CudnnConvProvider;
import java.util.ArrayList;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Times SD's three network calls on a backend as the pipeline makes them: text encoder (batch 2, for
 * classifier-free guidance), UNet (batch 2, latents of size/8) and VAE decoder (batch 1), each compiled
 * once, run once to compile kernels and upload weights, then timed over {@code --runs} calls (host
 * clock around {@link Executable#run}, which includes the input and output copies). Random weights.
 *
 * <pre>
 * java @$TORNADOVM_HOME/tornado-argfile -cp ... io.jdiffusion.tornado.NetworkBenchmark \
 *     [--model sd15|tiny] [--size 512] [--runs 10] [--backend tornado] [--precision f32|f16] [--networks text,unet,vae]
 *     [--profiler-range true]
 * </pre>
 * With {@code --profiler-range true} the last timed call of each network runs between {@code cuProfilerStart} and
 * {@code cuProfilerStop} ({@link CudaProfilerRange}), for {@code ncu --profile-from-start off}.
 */
public final class NetworkBenchmark {
    private NetworkBenchmark() {
    }

    public static void main(String[] args) {
        Map<String, String> o = options(args);
        String modelName = o.getOrDefault("model", "sd15");
        int size = Integer.parseInt(o.getOrDefault("size", "512"));
        int runs = Integer.parseInt(o.getOrDefault("runs", "10"));
        String backendName = o.getOrDefault("backend", TornadoBackendProvider.NAME);
        Precision precision = Precision.valueOf(o.getOrDefault("precision", "f32").toUpperCase(Locale.ROOT));
        List<String> networks = Arrays.asList(o.getOrDefault("networks", "text,unet,vae").split(","));
        boolean profilerRange = Boolean.parseBoolean(o.getOrDefault("profiler-range", "false"));

        long t0 = System.nanoTime();
        try (StableDiffusion model = modelName.equals("tiny") ? StableDiffusion.load(TinySd.modelDir(), null)
                : StableDiffusion.randomSd15(42, DType.F16, null);
             Backend backend = Backends.create(backendName)) {
            System.out.printf(Locale.ROOT, "model %s loaded in %.1f s; backend %s on %s%n", modelName, (System.nanoTime() - t0) / 1e9,
                    backend.name(), backend.deviceDescription());
            int latent = size / 8;
            Map<String, double[]> results = new LinkedHashMap<>();
            for (String network : networks) {
                Graph graph = switch (network) {
                    case "text" -> model.textEncoder().graph(2);
                    case "unet" -> model.unet().graph(new UNetCall(2, latent, latent, 77));
                    case "vae" -> model.vae().decoderGraph(1, latent, latent);
                    default -> throw new IllegalArgumentException("unknown network " + network);
                };
                results.put(network, time(backend, graph, precision, runs, model.textEncoder().config().vocabSize(), network, size, profilerRange));
            }
            // what cuDNN chose per convolution shape (CUDA backend only; empty elsewhere)
            CudnnConvProvider.plansMade().forEach(p -> System.out.println("CONVPLAN " + p));
            CudnnConvProvider.dispatched().forEach(p -> System.out.println("CONVDISPATCH " + p));
            CudnnAttentionProvider.plansMade().forEach(p -> System.out.println("SDPAPLAN " + p));
            // where host memory stays once every network ran (the model's weights are still open here)
            ResidentMappings.byPath().stream().limit(15).forEach(m -> System.out.printf(Locale.ROOT, "RSS %8.1f MiB %s%n",
                    m.getValue() / 1024.0, m.getKey()));
            if (results.containsKey("text") && results.containsKey("unet") && results.containsKey("vae")) {
                for (int steps : new int[]{50, 20}) {
                    double ms = results.get("text")[0] + steps * results.get("unet")[0] + results.get("vae")[0];
                    System.out.printf(Locale.ROOT, "RESULT pipeline-estimate size=%d precision=%s steps=%d ms=%.1f%n", size,
                            precision, steps, ms);
                }
            }
        }
    }

    /** Returns {median ms, min ms}. */
    private static double[] time(Backend backend, Graph graph, Precision precision, int runs, int vocab, String network, int size,
                                 boolean profilerRange) {
        List<Tensor> hostInputs = NetworkInputs.random(graph, vocab, 7);
        List<DeviceTensor> in = new ArrayList<>();
        List<DeviceTensor> out = new ArrayList<>();
        long c0 = System.nanoTime();
        try (Executable exe = backend.compile(graph, precision)) {
            double compileMs = (System.nanoTime() - c0) / 1e6;
            for (Tensor t : hostInputs) {
                in.add(backend.upload(t));
            }
            for (Value v : graph.outputs()) {
                out.add(backend.allocate(v.shape(), v.dtype()));
            }
            long f0 = System.nanoTime();
            exe.run(in, out);
            double firstMs = (System.nanoTime() - f0) / 1e6;
            double[] ms = new double[runs];
            for (int r = 0; r < runs; r++) {
                boolean bracketed = profilerRange && r == runs - 1;
                if (bracketed) {
                    CudaProfilerRange.start();
                }
                long r0 = System.nanoTime();
                exe.run(in, out);
                ms[r] = (System.nanoTime() - r0) / 1e6;
                if (bracketed) {
                    CudaProfilerRange.stop();
                }
            }
            Arrays.sort(ms);
            double median = ms[runs / 2];
            boolean finite = true;
            try (Tensor result = backend.download(out.getFirst())) {
                for (float f : result.toFloatArray()) {
                    finite &= Float.isFinite(f);
                }
            }
            String tasks = exe instanceof TornadoExecutable te ? Integer.toString(te.taskCount()) : "-";
            // distinct kernels / of them compiled from Java for this network / tasks running their kernel's source
            // (KernelTwins; 0/0/0 where every task compiles on its own)
            String twins = exe instanceof TornadoExecutable te
                    ? te.twins().kernelCount() + "/" + te.twins().compiledFromJavaCount() + "/" + te.twins().twinTaskCount() : "-";
            if (exe instanceof TornadoExecutable te && !te.lastProfiles().isEmpty()) {
                printProfile(network, size, te);
            }
            System.out.printf(Locale.ROOT, "RESULT network=%s size=%d precision=%s used=%s ops=%d tasks=%s kernels/compiled/twins=%s compile_ms=%.0f first_run_ms=%.0f"
                            + " median_ms=%.2f min_ms=%.2f runs=%d arena_mb=%.0f finite=%s%n", network, size, precision, exe.precision(),
                    graph.ops().size(), tasks, twins, compileMs, firstMs, median, ms[0], runs, exe.arenaBytes() / 1048576.0, finite);
            return new double[]{median, ms[0]};
        } finally {
            in.forEach(DeviceTensor::close);
            out.forEach(DeviceTensor::close);
            hostInputs.forEach(Tensor::close);
        }
    }

    /** Device kernel time per run and kernel method, averaged over all runs. */
    private static void printProfile(String network, int size, TornadoExecutable exe) {
        KernelProfile profile = KernelProfile.of(exe);
        if (profile.byMethod().isEmpty()) {
            String log = exe.lastProfiles().getFirst();
            System.out.println("PROFILE unparsed: " + log.substring(0, Math.min(1500, log.length())).replace('\n', ' '));
        }
        double total = profile.totalMs();
        for (String method : profile.byMethod().keySet()) {
            System.out.printf(Locale.ROOT, "PROFILE network=%s size=%d kernel=%s launches=%.0f device_ms=%.2f share=%.1f%%%n", network, size,
                    method, profile.launches(method), profile.ms(method), 100 * profile.ms(method) / total);
        }
        System.out.printf(Locale.ROOT, "PROFILE network=%s size=%d kernel=ALL device_ms=%.2f%n", network, size, total);
        double[] compile = KernelProfile.compileMs(exe);
        System.out.printf(Locale.ROOT, "PROFILE network=%s size=%d compile graal_ms=%.0f driver_ms=%.0f methods=%d%n", network, size,
                compile[0], compile[1], profile.byMethod().size());
    }

    private static Map<String, String> options(String[] args) {
        Map<String, String> o = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                throw new IllegalArgumentException("usage: --option value ...; got " + String.join(" ", args));
            }
            o.put(args[i].substring(2), args[++i]);
        }
        return o;
    }
}
