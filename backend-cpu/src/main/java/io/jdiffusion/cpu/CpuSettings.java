package io.jdiffusion.cpu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The CPU backend's knobs, read from system properties: {@value #THREADS} (worker count, default the
 * available processors) and {@value #VECTOR_BITS} (128, 256 or 512 to force a vector width, default the
 * platform's preferred one). Both are validated here so a bad value fails with one clear message.
 */
public final class CpuSettings {
    public static final String THREADS = "jdiffusion.cpu.threads";
    public static final String VECTOR_BITS = "jdiffusion.cpu.vectorBits";

    private CpuSettings() {
    }

    public static int threads() {
        String s = System.getProperty(THREADS);
        if (s == null || s.isBlank()) {
            return Runtime.getRuntime().availableProcessors();
        }
        try {
            int n = Integer.parseInt(s.strip());
            if (n >= 1 && n <= 1024) {
                return n;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new IllegalArgumentException(THREADS + " must be a thread count from 1 to 1024, got '" + s + "'");
    }

    /** The forced vector width in bits, or 0 for the platform's preferred width. */
    public static int forcedVectorBits() {
        String s = System.getProperty(VECTOR_BITS);
        if (s == null || s.isBlank()) {
            return 0;
        }
        return switch (s.strip()) {
            case "128" -> 128;
            case "256" -> 256;
            case "512" -> 512;
            default -> throw new IllegalArgumentException(VECTOR_BITS + " must be 128, 256 or 512, got '" + s + "'");
        };
    }

    /** The instruction set the vector width maps to on this CPU, from /proc/cpuinfo where readable. */
    static String isaName(int vectorBits) {
        Set<String> flags = cpuFlags();
        boolean x86 = System.getProperty("os.arch", "").matches("amd64|x86_64");
        if (!x86) {
            return vectorBits == 128 ? "NEON/SIMD" : "SIMD";
        }
        return switch (vectorBits) {
            case 512 -> flags.isEmpty() || flags.contains("avx512f") ? "AVX-512" : "AVX-512 (emulated: CPU lacks avx512f)";
            case 256 -> flags.isEmpty() || flags.contains("avx2") ? "AVX2" : "AVX";
            default -> "SSE";
        };
    }

    private static Set<String> cpuFlags() {
        Path info = Path.of("/proc/cpuinfo");
        if (!Files.isReadable(info)) {
            return Set.of();
        }
        try (Stream<String> lines = Files.lines(info)) {
            return lines.filter(l -> l.startsWith("flags"))
                    .findFirst()
                    .map(l -> Stream.of(l.substring(l.indexOf(':') + 1).trim().split("\\s+")).collect(Collectors.toSet()))
                    .orElse(Set.of());
        } catch (IOException | RuntimeException e) {
            return Set.of();
        }
    }
}
