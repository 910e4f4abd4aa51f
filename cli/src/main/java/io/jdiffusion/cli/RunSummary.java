package io.jdiffusion.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.pipeline.GenerationRequest;
import io.jdiffusion.models.pipeline.StageTimings;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Formats stage timings and peak memory for people, and as the JSON of {@code --json}: {@code bench} and
 * {@code generate} build their objects from the fields here, so that a figure has one name in both.
 */
final class RunSummary {
    private static final ObjectMapper JSON = new ObjectMapper();

    private RunSummary() {
    }

    /** What ran: model, backend, device, precision asked for and used, image size, steps, VAE tiling. */
    static ObjectNode jsonRun(String model, Backend backend, Precision requested, Precision used, int width, int height, int steps,
                              GenerationRequest.VaeTiling vaeTiling) {
        ObjectNode o = JSON.createObjectNode();
        o.put("model", model);
        o.put("backend", backend.name());
        o.put("device", backend.deviceDescription());
        o.put("precision", lower(requested));
        o.put("precision_used", lower(used));
        o.put("width", width).put("height", height).put("steps", steps);
        o.put("vae_tiling", vaeTiling.name().toLowerCase(Locale.ROOT));
        return o;
    }

    /**
     * The start-up figures: loading the model and creating the backend, the preparation (compilation, weight
     * packing, Winograd transforms, GPU JIT and upload), and the first image's time from process start (left out
     * when negative: not measured).
     */
    static void jsonStartup(ObjectNode o, double loadMs, double preparationMs, double firstImageSinceProcessStartMs) {
        o.put("load_ms", loadMs).put("preparation_ms", preparationMs);
        if (firstImageSinceProcessStartMs >= 0) {
            o.put("first_image_since_process_start_ms", firstImageSinceProcessStartMs);
        }
    }

    /** One generation's stages ({@link #describe}'s figures): {@code unet_ms} is per call, as bench's. */
    static ObjectNode jsonStages(ObjectNode o, StageTimings t) {
        o.put("preparation_ms", t.preparationMs()).put("text_encoder_ms", t.textEncoderMs());
        if (t.vaeEncodeMs() > 0) {
            o.put("vae_encode_ms", t.vaeEncodeMs());
        }
        o.put("unet_ms", t.unetPerCallMs()).put("unet_total_ms", t.unetTotalMs()).put("unet_steps", t.unetSteps())
                .put("unet_calls", t.unetCalls()).put("vae_decode_ms", t.vaeDecodeMs()).put("total_ms", t.totalMs());
        return o;
    }

    /**
     * Peak memory ({@link #memory}'s figures) and the breakdown of {@link #memoryBreakdown}, in bytes, and the memory
     * policy that shaped them ({@code MemoryPolicy.describe()}).
     */
    static void jsonMemory(ObjectNode o, Backend backend, String memoryPolicy) {
        o.put("peak_rss_bytes", peakRssBytes());
        o.put("peak_heap_bytes", peakHeapBytes());
        o.put("peak_offheap_bytes", Tensor.peakLiveBytes());
        if (backend.hasDeviceMemory()) {
            o.put("peak_device_bytes", backend.peakDeviceBytes());
        }
        ObjectNode memory = o.putObject("memory_bytes");
        memoryBreakdown(backend).forEach(memory::put);
        o.put("memory_policy", memoryPolicy);
    }

    /** The object on one line. */
    static String json(ObjectNode o) {
        try {
            return JSON.writeValueAsString(o);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a tree of numbers and strings failed to serialise", e);
        }
    }

    static String lower(Precision p) {
        return p.name().toLowerCase(Locale.ROOT);
    }

    static String describe(StageTimings t, Backend backend) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "text encoder %.0f ms", t.textEncoderMs()));
        if (t.vaeEncodeMs() > 0) {
            sb.append(String.format(Locale.ROOT, " | VAE encode %.0f ms", t.vaeEncodeMs()));
        }
        sb.append(String.format(Locale.ROOT, " | UNet %s %.2f s (%.0f ms/call) | VAE decode %.0f ms",
                stepsAndCalls(t.unetSteps(), t.unetCalls()), t.unetTotalMs() / 1000, t.unetPerCallMs(), t.vaeDecodeMs()));
        if (t.preparationMs() > 0) {
            sb.append(String.format(Locale.ROOT, " | preparation %.2f s (compile, weight packing, JIT, upload)",
                    t.preparationMs() / 1000));
        }
        sb.append(String.format(Locale.ROOT, " | total %.2f s | %s", t.totalMs() / 1000, memory(backend)));
        sb.append(System.lineSeparator()).append(describeMemory(backend));
        return sb.toString();
    }

    /** "20 steps", or "20 steps, 21 calls" when PNDM's first step calls the UNet twice. */
    static String stepsAndCalls(int steps, int calls) {
        String s = steps + (steps == 1 ? " step" : " steps");
        return calls == steps ? s : s + ", " + calls + " calls (PNDM's first step calls the UNet twice)";
    }

    /** Peak memory: RSS, heap, off-heap, and device memory for backends that have a device. */
    static String memory(Backend backend) {
        String s = "peak RSS " + mib(peakRssBytes()) + ", heap " + mib(peakHeapBytes()) + ", off-heap " + mib(Tensor.peakLiveBytes());
        return backend.hasDeviceMemory() ? s + ", device " + mib(backend.peakDeviceBytes()) : s;
    }

    /** Milliseconds since the JVM started: what a user waits from pressing enter. */
    static double sinceProcessStartMs() {
        return System.currentTimeMillis() - ManagementFactory.getRuntimeMXBean().getStartTime();
    }

    /** VmHWM: the process's peak resident set, what peers report as peak RSS; -1 where /proc is absent. */
    static long peakRssBytes() {
        return procStatusBytes("VmHWM");
    }

    /**
     * A size from /proc/self/status ({@code VmHWM}, {@code RssAnon}: anonymous memory such as the heap and
     * off-heap arenas, {@code RssFile}: resident pages of mapped files such as a weights file), -1 where absent.
     */
    static long procStatusBytes(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(field + ":")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }

    /**
     * Where memory is now: the backend's breakdown (weights, arenas, workspaces, tensors), the Java heap
     * (used now and peak) and the resident set split into anonymous pages and mapped-file pages (a mapped
     * weights file's pages count towards RSS while resident; the CPU backend hands them back after packing).
     */
    static Map<String, Long> memoryBreakdown(Backend backend) {
        Map<String, Long> m = new LinkedHashMap<>(backend.memoryBreakdown());
        // the high-water mark of all the above: under a staged memory policy the networks are freed by the end
        m.put("backend_peak", backend.peakDeviceBytes());
        m.put("heap_used", ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
        m.put("heap_peak", peakHeapBytes());
        m.put("heap_max", Runtime.getRuntime().maxMemory());
        m.put("rss_anon", procStatusBytes("RssAnon"));
        m.put("rss_file", procStatusBytes("RssFile"));
        m.put("rss_peak", peakRssBytes());
        return m;
    }

    /** {@link #memory} as one line of MiB. */
    static String describeMemory(Backend backend) {
        return "memory:" + describe(memoryBreakdown(backend));
    }

    /** A breakdown as " name N MiB, ..." (as {@link #describeMemory} prints it). */
    static String describe(Map<String, Long> breakdown) {
        StringBuilder sb = new StringBuilder();
        breakdown.forEach((k, v) -> sb.append(' ').append(k).append(' ').append(mib(v)).append(','));
        if (!sb.isEmpty()) {
            sb.setLength(sb.length() - 1);
        }
        return sb.toString();
    }

    /** Sum of the heap pools' peak usage. */
    static long peakHeapBytes() {
        long sum = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) {
                sum += pool.getPeakUsage().getUsed();
            }
        }
        return sum;
    }

    static String mib(long bytes) {
        return bytes < 0 ? "n/a" : String.format(Locale.ROOT, "%.0f MiB", bytes / 1048576.0);
    }
}
