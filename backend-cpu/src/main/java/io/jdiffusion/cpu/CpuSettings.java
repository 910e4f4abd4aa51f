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
    public static final String WINOGRAD_CACHE_MIB = "jdiffusion.cpu.winogradCacheMiB";
    public static final String F32_WEIGHTS_AS_F16 = "jdiffusion.cpu.f32WeightsAsF16";
    /**
     * Default bytes of Winograd filters a compiled network keeps: no limit of the backend's own, so every Winograd
     * layer keeps its filters unless a pipeline's memory policy caps them ({@link CpuBackend#limitDerivedWeightBytes};
     * its warm policy gives them what the budget leaves beside the weights, its staged one little or nothing).
     * Kept filters are F32 whatever the weights' storage; which layers keep them, and what that bought, is in
     * {@link WinogradSelection}. Keeping all of SD 1.5's UNet filters took the sum of its operators' fastest calls
     * from 1511 to 1431 ms at 256x256 and from 6572 to 6125 ms at 512x512 (F32 weights), for 2.5 and 5.7 GiB of
     * filters (2026-12-06, docs/PERFORMANCE.md).
     */
    static final long DEFAULT_WINOGRAD_CACHE_BYTES = Long.MAX_VALUE;

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

    /**
     * Bytes of Winograd-transformed filters one compiled network may keep ({@value #WINOGRAD_CACHE_MIB} in MiB,
     * default {@link #DEFAULT_WINOGRAD_CACHE_BYTES}). Transformed filters take 4x (F(4x4)) or 1.8x (F(2x2)) the
     * memory of the 3x3 weights; the layers left out transform their filters as they run ({@link
     * WinogradFilterStream}), 5-25% slower on those layers.
     */
    public static long winogradCacheBytes() {
        String s = System.getProperty(WINOGRAD_CACHE_MIB);
        if (s == null || s.isBlank()) {
            return DEFAULT_WINOGRAD_CACHE_BYTES;
        }
        try {
            long mib = Long.parseLong(s.strip());
            if (mib >= 0) {
                return mib >= Long.MAX_VALUE >> 20 ? Long.MAX_VALUE : mib << 20;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new IllegalArgumentException(WINOGRAD_CACHE_MIB + " must be a size in MiB (0 or more), got '" + s + "'");
    }

    /**
     * Whether F32 weights are packed as F16 panels ({@value #F32_WEIGHTS_AS_F16}=true; default false): half
     * the weight memory for an F32 checkpoint, at the cost of rounding every weight to F16 (the backend
     * reports the relative error that adds, {@link CpuBackend#weightNarrowingError()}). F16 and BF16
     * checkpoints are always packed at 2 bytes per weight, exactly.
     */
    public static boolean f32WeightsAsF16() {
        String s = System.getProperty(F32_WEIGHTS_AS_F16);
        if (s == null || s.isBlank()) {
            return false;
        }
        return switch (s.strip()) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new IllegalArgumentException(F32_WEIGHTS_AS_F16 + " must be true or false, got '" + s + "'");
        };
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

    /**
     * Whether C2 keeps safepoints in counted loops (loop strip mining). The parallel and serial collectors turn
     * them off, and C2 then compiles the Vector API GEMM micro-kernel about 2x slower (AMD Zen 3, AVX2: 37
     * against 86 GFLOP/s on one core); G1 and the launcher's flags keep them on. True where the JVM cannot tell.
     */
    static boolean countedLoopSafepoints() {
        try {
            var mx = java.lang.management.ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
            return mx == null || !"false".equals(mx.getVMOption("UseCountedLoopSafepoints").getValue());
        } catch (RuntimeException | LinkageError e) {
            return true;
        }
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
