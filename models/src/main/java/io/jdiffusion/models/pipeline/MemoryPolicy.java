package io.jdiffusion.models.pipeline;

import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.models.weights.Parameter;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * How long a pipeline keeps its networks compiled (packed weights, Winograd filters, activation arena), chosen
 * from a memory budget for the whole process.
 *
 * <ul>
 *   <li><b>Warm</b> (the budget holds {@link #WARM_FACTOR} times the weights): a network stays compiled
 *       from its first use until the pipeline closes, so the next image starts at once. A server keeps this
 *       wherever memory allows.</li>
 *   <li><b>Staged</b> (it does not): a network is compiled, and its weights packed, when its stage starts, and
 *       released when the stage ends: the text encoders after the conditioning, the VAE encoder before the
 *       denoising loop, the UNet before the decode, the decoder after it. One network's weights are resident at a
 *       time, so the peak follows the largest network (SD 1.5: the UNet, 1.7 GB in F16) instead of their sum; the
 *       cost is packing each network again for every image.</li>
 * </ul>
 *
 * In both, the copies of weights that only buy speed (the CPU backend's Winograd-transformed filters, see
 * {@link io.jdiffusion.backend.Backend#limitDerivedWeightBytes}) get what the budget leaves once the resident
 * weights and the reserve are counted; a warm pipeline shares that between the two networks that have such
 * layers (UNet and VAE decoder).
 *
 * @param staged             whether networks are released when their stage ends
 * @param budgetBytes        the budget the policy was chosen for ({@link Long#MAX_VALUE}: none)
 * @param weightBytes        the model's weights at their stored precision, all networks
 * @param derivedWeightBytes the cap on derived weights per network ({@link Long#MAX_VALUE}: the backend's own)
 */
public record MemoryPolicy(boolean staged, long budgetBytes, long weightBytes, long derivedWeightBytes) {
    /**
     * What a run holds beside the packed weights and derived weights: the Java heap's per-run scratch (the
     * launcher caps it at 1 GiB; 0.4 GiB used at 512x512), the JVM's own memory (code, metaspace, stacks, about
     * 0.15 GiB), and the activation arenas of one network (SD 1.5 at 512x512: UNet 90 MiB, VAE decoder 640 MiB;
     * VAE tiling bounds the decoder's to one tile's above 768x768).
     */
    public static final long RESERVE = 1280L << 20;

    /**
     * A warm pipeline's peak over its weights: besides every network's packed weights it holds their Winograd filters
     * and activation arenas at once. Measured on this project's CPU backend: SD 1.5 from an F16 file at 512x512,
     * 3.93 GiB for 2.0 GiB of weights (1.97x); SDXL base at 1024x1024, 11.2 GiB for 6.5 GiB (1.72x).
     */
    public static final int WARM_FACTOR = 2;

    /** Every network stays compiled, derived weights as the backend's own default: the behaviour without a budget. */
    public static final MemoryPolicy WARM = new MemoryPolicy(false, Long.MAX_VALUE, 0, Long.MAX_VALUE);

    public MemoryPolicy {
        if (budgetBytes <= 0) {
            throw new IllegalArgumentException("a memory budget must be positive, got " + budgetBytes + " bytes");
        }
        if (derivedWeightBytes < 0 || weightBytes < 0) {
            throw new IllegalArgumentException("weight and derived-weight bytes must be 0 or more, got " + weightBytes
                    + " and " + derivedWeightBytes);
        }
    }

    /**
     * The policy for {@code model} within {@code budgetBytes}: warm if the budget holds {@link #WARM_FACTOR} times
     * all its weights, staged otherwise; derived weights get what the resident weights and {@link #RESERVE} leave.
     *
     * @param model       the model whose networks the pipeline will run
     * @param budgetBytes the memory the whole process may use, e.g. {@link #availableBytes()}
     * @return the policy
     */
    public static MemoryPolicy forBudget(StableDiffusion model, long budgetBytes) {
        long text = bytes(model.textEncoders().stream().flatMap(e -> e.parameters().stream()).toList());
        long unet = bytes(model.unet().parameters());
        long vae = bytes(model.vae().parameters());
        long all = text + unet + vae;
        if (WARM_FACTOR * all <= budgetBytes) {
            return new MemoryPolicy(false, budgetBytes, all, Math.max(0, (budgetBytes - all - RESERVE) / 2));
        }
        long largest = Math.max(unet, Math.max(text, vae));
        return new MemoryPolicy(true, budgetBytes, all, Math.max(0, budgetBytes - largest - RESERVE));
    }

    /**
     * The memory this machine can give a new process: the kernel's {@code MemAvailable} estimate (free memory
     * plus the page cache it can drop) where {@code /proc/meminfo} is readable, else the physical memory.
     *
     * @return bytes
     */
    public static long availableBytes() {
        Path meminfo = Path.of("/proc/meminfo");
        if (Files.isReadable(meminfo)) {
            try (Stream<String> lines = Files.lines(meminfo)) {
                var line = lines.filter(l -> l.startsWith("MemAvailable:")).findFirst();
                if (line.isPresent()) {
                    String[] parts = line.get().trim().split("\\s+");
                    return Long.parseLong(parts[1]) * 1024;
                }
            } catch (IOException | RuntimeException e) {
                // fall through to the physical memory
            }
        }
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getTotalMemorySize();
        }
        return Long.MAX_VALUE;
    }

    /**
     * One line for logs, e.g. {@code staged (budget 3.0 GiB, weights 2.0 GiB; derived weights <= 152 MiB per network)}.
     *
     * @return the policy and the figures it was chosen from
     */
    public String describe() {
        if (budgetBytes == Long.MAX_VALUE) {
            return "warm (no memory budget)";
        }
        String derived = derivedWeightBytes == Long.MAX_VALUE ? "the backend's default"
                : "<= " + (derivedWeightBytes >> 20) + " MiB per network";
        return String.format(Locale.ROOT, "%s (budget %.1f GiB, weights %.1f GiB; derived weights %s)",
                staged ? "staged: each network packed when its stage starts and released when it ends" : "warm",
                gib(budgetBytes), gib(weightBytes), derived);
    }

    private static double gib(long bytes) {
        return bytes / (double) (1L << 30);
    }

    private static long bytes(List<Parameter> parameters) {
        return parameters.stream().mapToLong(p -> p.tensor().byteSize()).sum();
    }
}
