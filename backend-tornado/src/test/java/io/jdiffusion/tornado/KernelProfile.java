package io.jdiffusion.tornado;

import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Device kernel time per kernel method of an executable, from TornadoVM's JSON profiles (recorded with
 * {@code -Djdiffusion.tornado.profile=true}), averaged over all runs so far: each profile holds every run's
 * entries.
 */
record KernelProfile(Map<String, double[]> byMethod) {
    private static final Pattern TASK = Pattern.compile(
            "\"METHOD\": \"([^\"]+)\"(?:(?!\"METHOD\")[\\s\\S])*?\"TASK_KERNEL_TIME\": \"(\\d+)\"");

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
