package io.jdiffusion.cli.bench;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jdiffusion.cpu.CpuSettings;
import io.jdiffusion.cpu.OpsBenchmark;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Consumer;

/**
 * {@code jdiffusion bench ops}: Stable Diffusion 1.5's hot operators on the CPU backend at their real
 * shapes, each beside this machine's F32 FMA peak measured in the same run.
 */
@Command(name = "ops", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Benchmark the CPU backend's operators at SD 1.5 shapes: GEMM, 3x3 convolution (Winograd and "
                + "im2col side by side), flash attention, GroupNorm+SiLU.",
                "Each row is also given as a fraction of this machine's F32 FMA peak, measured first with a Vector API "
                + "loop on the same threads. Not for CI: run it on a quiet machine."})
public final class OpsBenchCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--json", description = "One JSON object per line (op, shape, variant, ms, gflops, fraction_of_peak, ...).")
    boolean json;

    @Option(names = "--threads", paramLabel = "N", description = "Worker threads (default: ${sys:jdiffusion.cpu.threads:-the available processors}).")
    Integer threads;

    @Option(names = "--seconds", paramLabel = "S", defaultValue = "2",
            description = "Seconds each row is timed for, after a warm-up (default: ${DEFAULT-VALUE}).")
    double seconds;

    @Option(names = "--rounds", paramLabel = "N", defaultValue = "1",
            description = "Times the selected rows run, one after the other in each round, so that the variants of a layer "
                    + "interleave; the summary compares each row's least CPU time over the rounds (default: ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--cold-caches",
            description = "Empty the caches before each timed run (every thread writes its share of 128 MiB), so that an "
                    + "operator finds its weights, inputs and output in memory, as it does inside a network.")
    boolean coldCaches;

    @Option(names = "--filter", paramLabel = "TEXT", defaultValue = "",
            description = "Only rows whose 'op shape variant' contains TEXT, e.g. gemm, conv3x3, attention, 64x64x320.")
    String filter;

    public OpsBenchCommand() {
    }

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        int n = threads != null ? threads : CpuSettings.threads();
        if (n < 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--threads must be at least 1, got " + n);
        }
        if (rounds < 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--rounds must be at least 1, got " + rounds);
        }
        if (!(seconds > 0)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--seconds must be positive, got " + seconds);
        }
        try (OpsBenchmark bench = new OpsBenchmark(n, seconds, coldCaches)) {
            long t0 = System.nanoTime();
            double peak = bench.measurePeak();
            double peakMs = (System.nanoTime() - t0) / 1e6;
            if (json) {
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("op", "fma_peak");
                row.put("shape", n + (n == 1 ? " thread" : " threads"));
                row.put("variant", "");
                row.put("ms", round(peakMs));
                row.put("gflops", round(peak));
                row.put("device", bench.deviceDescription());
                out.println(toJson(row));
            } else {
                out.printf(Locale.ROOT, "CPU backend: %s%n", bench.deviceDescription());
                out.printf(Locale.ROOT, "F32 FMA peak (Vector API, %d thread%s): %.1f GFLOP/s%n%n", n, n == 1 ? "" : "s", peak);
                if (coldCaches) {
                    out.printf(Locale.ROOT, "Cold caches: %d MiB written over the threads before each timed run%n%n",
                            OpsBenchmark.COLD_CACHE_BYTES >> 20);
                }
                out.printf(Locale.ROOT, "%-15s %-30s %-9s %10s %10s %7s %12s %12s %10s%n", "op", "shape", "variant", "ms",
                        "GFLOP/s", "% peak", "heap B/run", "backend MB", "cpu ms");
            }
            double bandwidth = bench.selectsMemoryBound(name -> name.contains(filter)) ? bench.measureBandwidth() : 0;
            if (bandwidth > 0) {
                if (json) {
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("op", "copy_bandwidth");
                    row.put("shape", "256 MiB, " + n + (n == 1 ? " thread" : " threads"));
                    row.put("variant", "");
                    row.put("gbps", round(bandwidth));
                    out.println(toJson(row));
                } else {
                    out.printf(Locale.ROOT, "Copy bandwidth (256 MiB, read + write, %d thread%s): %.1f GB/s; memory-bound rows give GB/s and %% of it%n%n",
                            n, n == 1 ? "" : "s", bandwidth);
                }
            }
            out.flush();
            List<OpsBenchmark.Result> results = new ArrayList<>();
            Consumer<OpsBenchmark.Result> sink = r -> {
                results.add(r);
                if (json) {
                    Map<String, Object> row = row(r);
                    row.put("cold_caches", coldCaches);
                    out.println(toJson(row));
                } else if (r.memoryBound()) {
                    out.printf(Locale.ROOT, "%-15s %-30s %-9s %10.2f %8.1f GB/s %5.1f%% of copy bandwidth%n", r.op(), r.shape(), r.variant(),
                            r.ms(), r.gbps(), 100 * r.fractionOfBandwidth());
                } else {
                    out.printf(Locale.ROOT, "%-15s %-30s %-9s %10.2f %10.1f %6.1f%% %12s %12.1f %10.2f%n", r.op(), r.shape(), r.variant(),
                            r.ms(), r.gflops(), 100 * r.fractionOfPeak(), r.allocatedBytes() < 0 ? "n/a" : Long.toString(r.allocatedBytes()),
                            r.workspaceBytes() / 1e6, r.cpuMs());
                }
                out.flush();
            };
            for (int round = 0; round < rounds; round++) {
                bench.run(name -> name.contains(filter), peak, bandwidth, sink);
            }
            if (!json) {
                printWinogradSpeedups(out, results);
                out.println();
                out.println("GFLOP/s count the direct algorithm's flops (2 per multiply-add; Winograd does fewer multiplies, so it");
                out.println("can exceed the FMA peak). GroupNorm+SiLU counts a nominal 9 flops per element. 'heap B/run' is Java heap");
                out.println("allocated per timed run over all threads; 'backend MB' is what the compiled operator holds (arena, packed");
                out.println("weights, scratch), outside its inputs and outputs.");
            }
        }
        return 0;
    }

    /**
     * Each Winograd convolution row beside the im2col row of the same layer: by median wall-clock time, and by the
     * least CPU time over all rounds (the comparison that holds on a loaded machine).
     */
    private static void printWinogradSpeedups(PrintWriter out, List<OpsBenchmark.Result> results) {
        Map<String, Double> leastCpu = new LinkedHashMap<>();
        Map<String, Double> leastMs = new LinkedHashMap<>();
        for (OpsBenchmark.Result r : results) {
            String key = r.op() + " " + r.shape() + " | " + r.variant();
            leastCpu.merge(key, r.cpuMs(), Math::min);
            leastMs.merge(key, r.ms(), Math::min);
        }
        for (String key : leastCpu.keySet()) {
            String layer = key.substring(0, key.indexOf(" | "));
            String variant = key.substring(key.indexOf(" | ") + 3);
            Double im2colCpu = leastCpu.get(layer + " | im2col");
            if (!layer.startsWith("conv3x3") || !variant.startsWith("winograd") || im2colCpu == null) {
                continue;
            }
            double im2colMs = leastMs.get(layer + " | im2col");
            out.printf(Locale.ROOT, "%n%s: %s %.2f ms vs im2col %.2f ms = %.2fx; least CPU time %.2f ms vs %.2f ms = %.2fx",
                    layer, variant, leastMs.get(key), im2colMs, im2colMs / leastMs.get(key), leastCpu.get(key), im2colCpu,
                    im2colCpu / leastCpu.get(key));
        }
        out.println();
    }

    private static Map<String, Object> row(OpsBenchmark.Result r) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("op", r.op());
        row.put("shape", r.shape());
        row.put("variant", r.variant());
        row.put("ms", round(r.ms()));
        row.put("gflops", round(r.gflops()));
        row.put("fraction_of_peak", Math.round(r.fractionOfPeak() * 1000) / 1000.0);
        row.put("heap_bytes_per_run", r.allocatedBytes());
        row.put("backend_bytes", r.workspaceBytes());
        row.put("cpu_ms", round(r.cpuMs()));
        if (r.memoryBound()) {
            row.put("gbps", round(r.gbps()));
            row.put("fraction_of_bandwidth", Math.round(r.fractionOfBandwidth() * 1000) / 1000.0);
        }
        return row;
    }

    private static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }

    private static String toJson(Map<String, Object> row) {
        try {
            return new ObjectMapper().writeValueAsString(row);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }
}
