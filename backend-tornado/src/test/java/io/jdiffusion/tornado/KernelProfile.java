package io.jdiffusion.tornado;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Device kernel time per kernel method of an executable, from TornadoVM's JSON profiles (recorded with
 * {@code -Djdiffusion.tornado.profile=true}), averaged over all runs so far: each profile holds every run's
 * entries.
 */
record KernelProfile(Map<String, double[]> byMethod) {
    private static final Pattern TASK = Pattern.compile(
            "\"METHOD\": \"([^\"]+)\"(?:(?!\"METHOD\")[\\s\\S])*?\"TASK_KERNEL_TIME\": \"(\\d+)\"");

    /** The start of one execution's section in a task graph's profile log (each execution appends one). */
    private static final Pattern SECTION = Pattern.compile("(?m)^ {4}\"[^\"]+\": \\{$");
    /**
     * A section's own copy-in bytes: TornadoVM counts there the buffers it copied to the device, and under each task
     * the task's launch frame (the kernel arguments it writes at every launch, a few dozen bytes).
     */
    private static final Pattern SECTION_COPY_IN = Pattern.compile("(?m)^ {8}\"TOTAL_COPY_IN_SIZE_BYTES\": \"(\\d+)\"");

    /**
     * Bytes of the buffers TornadoVM copied to the device in the last execution of the plan, launch frames left
     * out: the data a run moved in (inputs, and in a first execution the weights), from the last section of each
     * task graph's profile that execution ran.
     */
    static long dataCopyInBytes(TornadoExecutable exe) {
        long bytes = 0;
        for (String log : exe.lastProfiles()) {
            List<String> sections = sections(log);
            if (sections.isEmpty()) {
                throw new IllegalStateException("no section in a TornadoVM profile: " + log.substring(0, Math.min(200, log.length())));
            }
            Matcher copy = SECTION_COPY_IN.matcher(sections.getLast());
            if (copy.find()) {
                bytes += Long.parseLong(copy.group(1));
            }
        }
        return bytes;
    }

    /** A task graph's profile log cut into its executions' sections, in order (each runs to the next one's start). */
    private static List<String> sections(String log) {
        Matcher section = SECTION.matcher(log);
        List<Integer> starts = new ArrayList<>();
        while (section.find()) {
            starts.add(section.start());
        }
        starts.add(log.length());
        List<String> sections = new ArrayList<>();
        for (int i = 0; i + 1 < starts.size(); i++) {
            sections.add(log.substring(starts.get(i), starts.get(i + 1)));
        }
        return sections;
    }

    private static final Pattern COMPILE = Pattern.compile("\"TASK_COMPILE_(GRAAL|DRIVER)_TIME\": \"(\\d+)\"");

    /**
     * Milliseconds TornadoVM spent compiling the executable's tasks, {Graal, driver}: per task graph the largest
     * per-execution sum (compilation happens in one execution; later sections may repeat a task's timer).
     */
    static double[] compileMs(TornadoExecutable exe) {
        double[] total = new double[2];
        for (String log : exe.lastProfiles()) {
            double[] most = new double[2];
            for (String section : sections(log)) {
                double[] sum = new double[2];
                Matcher m = COMPILE.matcher(section);
                while (m.find()) {
                    sum[m.group(1).equals("GRAAL") ? 0 : 1] += Long.parseLong(m.group(2)) / 1e6;
                }
                most[0] = Math.max(most[0], sum[0]);
                most[1] = Math.max(most[1], sum[1]);
            }
            total[0] += most[0];
            total[1] += most[1];
        }
        return total;
    }

    static KernelProfile of(TornadoExecutable exe) {
        Map<String, double[]> byMethod = new TreeMap<>();
        long runs = exe.runCount();
        for (String log : exe.lastProfiles()) {
            Matcher m = TASK.matcher(log);
            while (m.find()) {
                double[] t = byMethod.computeIfAbsent(m.group(1), k -> new double[2]);
                t[0] += Long.parseLong(m.group(2)) / 1e6 / runs;
                t[1] += 1.0 / runs;
            }
        }
        return new KernelProfile(byMethod);
    }

    /** Milliseconds per run of a method. */
    double ms(String method) {
        return byMethod.getOrDefault(method, new double[2])[0];
    }

    /** Launches per run of a method. */
    double launches(String method) {
        return byMethod.getOrDefault(method, new double[2])[1];
    }

    /** Every method's milliseconds and launches per run, one "method ms/launches" a method, largest first. */
    String breakdown() {
        return byMethod.entrySet().stream().sorted((a, b) -> Double.compare(b.getValue()[0], a.getValue()[0]))
                .map(e -> String.format(Locale.ROOT, "%s %.3f/%.0f", e.getKey(), e.getValue()[0], e.getValue()[1]))
                .collect(Collectors.joining(" "));
    }

    double totalMs() {
        return byMethod.values().stream().mapToDouble(t -> t[0]).sum();
    }

    /** Milliseconds per run of the methods whose name starts with one of the prefixes. */
    double ms(String... prefixes) {
        double sum = 0;
        for (Map.Entry<String, double[]> e : byMethod.entrySet()) {
            for (String p : prefixes) {
                if (e.getKey().startsWith(p)) {
                    sum += e.getValue()[0];
                    break;
                }
            }
        }
        return sum;
    }
}
