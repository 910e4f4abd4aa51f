package io.jdiffusion.cpu;

import io.jdiffusion.backend.DeviceTensor;
import io.jdiffusion.backend.Executable;
import io.jdiffusion.backend.HeapAllocation;
import io.jdiffusion.backend.OperatorProfile;
import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Padding;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * The CPU operator benchmark behind {@code jdiffusion bench ops}: Stable Diffusion 1.5's hot operators at
 * their real shapes, each compiled as a one-operator graph and timed on the backend, with this machine's
 * F32 FMA peak measured in the same run as the yardstick.
 */
public final class OpsBenchmark implements AutoCloseable {
    /**
     * One row. {@code gflops} counts the operator's direct arithmetic (2 flops per multiply-add of the
     * plain algorithm, also for Winograd, whose fewer multiplies show up as a higher rate);
     * {@code allocatedBytes} is the Java heap the timed runs allocated per run, over all threads (-1 when
     * the JVM cannot tell); {@code workspaceBytes} is the backend memory the executable holds (arena,
     * repacked weights, scratch). {@code cpuMs} is the least CPU time one timed run took over the benchmark's
     * threads (the caller and the pool's workers; NaN where the JVM cannot tell): on a machine others load,
     * the figure to compare kernels by, single-threaded, where wall-clock times are noise.
     */
    public record Result(String op, String shape, String variant, double ms, double gflops, double fractionOfPeak,
                         long allocatedBytes, long workspaceBytes, double gbps, double fractionOfBandwidth, double cpuMs) {
        /** Whether the row is memory-bound and so measured in GB/s against the copy bandwidth. */
        public boolean memoryBound() {
            return gbps > 0;
        }
    }

    /** Which of the benchmark's backends a case runs on. */
    private enum Kernels {
        /** The default choices (Winograd for large 3x3 layers, filters kept within the budget). */
        AUTO,
        /** Winograd on every 3x3 stride-1 layer, its filters kept. */
        WINOGRAD,
        /** Winograd on every 3x3 stride-1 layer, its filters transformed as it runs ({@link WinogradFilterStream}). */
        WINOGRAD_STREAMED,
        /** Winograd F(2x2) on every 3x3 stride-1 layer, its filters kept. */
        WINOGRAD_F2,
        /** Winograd F(2x2) on every 3x3 stride-1 layer, its filters transformed as it runs (the default's way). */
        WINOGRAD_F2_STREAMED,
        IM2COL,
        /** The default choices with F32 weights packed as F16 (widened as the GEMM stages each panel). */
        F16_PANELS
    }

    /**
     * A benchmark case: a one-operator graph and its direct flop count, on the backend of {@code kernels}. Where
     * {@code timedKind} is set the graph has operators around the one measured, and a row's time is that operator's
     * alone (the graph's only operator of the {@code OperatorKind} {@code timedKind}), from a profile of each run.
     */
    private record Case(String op, String shape, String variant, double flops, Kernels kernels, double bytes, String timedKind,
                        Function<GraphBuilder, Value> recipe) {
        Case(String op, String shape, String variant, double flops, Kernels kernels, Function<GraphBuilder, Value> recipe) {
            this(op, shape, variant, flops, kernels, 0, null, recipe);
        }

        Case(String op, String shape, String variant, double flops, Kernels kernels, double bytes, Function<GraphBuilder, Value> recipe) {
            this(op, shape, variant, flops, kernels, bytes, null, recipe);
        }

        String name() {
            return op + " " + shape + (variant.isEmpty() ? "" : " " + variant);
        }
    }

    /** Bytes written over the threads before each timed run with cold caches. */
    public static final long COLD_CACHE_BYTES = CacheEviction.BYTES;

    private final int threads;
    private final double seconds;
    /** Empties the caches before every timed run, where the benchmark was asked for cold caches. */
    private final CacheEviction eviction;
    private final CpuBackend auto;
    private final CpuBackend winograd;
    private final CpuBackend im2col;
    private final CpuBackend f16Panels;
    private final CpuBackend streamed;
    private final CpuBackend f2;
    private final CpuBackend f2Streamed;
    private final List<Tensor> owned = new ArrayList<>();
    private final SplittableRandom random = new SplittableRandom(20261121);

    /**
     * {@code seconds}: about how long each row is timed for (after a warm-up). {@code coldCaches}: each timed run starts
     * with the caches emptied ({@link CacheEviction}), so that it finds its operands in memory as it would in a network.
     */
    public OpsBenchmark(int threads, double seconds, boolean coldCaches) {
        this.threads = threads;
        this.seconds = seconds;
        this.eviction = coldCaches ? new CacheEviction() : null;
        this.auto = new CpuBackend(threads, ConvAlgorithm.AUTO);
        this.winograd = new CpuBackend(threads, new KernelOptions(ConvAlgorithm.WINOGRAD_F4, WinogradConv.CHUNK_FLOATS,
                Long.MAX_VALUE, false));
        this.im2col = new CpuBackend(threads, ConvAlgorithm.IM2COL);
        this.f16Panels = new CpuBackend(threads, new KernelOptions(ConvAlgorithm.AUTO, WinogradConv.CHUNK_FLOATS,
                CpuSettings.winogradCacheBytes(), true));
        this.streamed = new CpuBackend(threads, new KernelOptions(ConvAlgorithm.WINOGRAD_F4, WinogradConv.CHUNK_FLOATS, 0, false));
        this.f2 = new CpuBackend(threads, new KernelOptions(ConvAlgorithm.WINOGRAD_F2, WinogradConv.CHUNK_FLOATS,
                Long.MAX_VALUE, false));
        this.f2Streamed = new CpuBackend(threads, new KernelOptions(ConvAlgorithm.WINOGRAD_F2, WinogradConv.CHUNK_FLOATS, 0, false));
    }

    public String deviceDescription() {
        return auto.deviceDescription();
    }

    /** This machine's copy bandwidth in GB/s (read plus write) on the benchmark's threads, measured now. */
    public double measureBandwidth() {
        return CopyBandwidth.measure(auto.pool(), Math.max(0.5, seconds));
    }

    /** Whether any case {@code filter} selects is memory-bound (and so needs {@link #measureBandwidth}). */
    public boolean selectsMemoryBound(Predicate<String> filter) {
        return cases().stream().anyMatch(c -> c.bytes() > 0 && filter.test(c.name()));
    }

    /** This machine's F32 FMA peak in GFLOP/s on the benchmark's threads, measured now. */
    public double measurePeak() {
        return FmaPeak.measure(auto.pool(), Math.max(0.5, seconds));
    }

    private List<Case> cases() {
        List<Case> c = new ArrayList<>();
        // The five SD shapes, then the UNet's deep products at batch 2 (feed-forward out at 16x16 and 32x32, and
        // the 16x16 feed-forward in, GEGLU's 10240 columns as a plain product), whose depth Gemm splits into chunks,
        // then a 256x256 image's 8x8 level at batch 2 (M = 128): its attention projections and feed-forward out.
        int[][] gemm = {{4096, 320, 320}, {4096, 320, 2560}, {1024, 640, 640}, {256, 1280, 1280}, {77, 768, 768},
                {512, 5120, 1280}, {2048, 2560, 640}, {512, 1280, 10240}, {128, 1280, 1280}, {128, 5120, 1280}};
        for (int[] s : gemm) {
            int m = s[0], k = s[1], n = s[2];
            for (boolean half : new boolean[] {false, true}) {
                c.add(new Case("gemm", "M=" + m + " K=" + k + " N=" + n, half ? "f16 panels" : "", 2.0 * m * k * n,
                        half ? Kernels.F16_PANELS : Kernels.AUTO, g -> g.linear(input(g, "x", 1, m, k), weight(g, n, k), weight(g, n))));
            }
        }
        int[][] conv = {{64, 64, 320}, {32, 32, 640}, {16, 16, 1280}, {512, 512, 128}};
        for (int[] s : conv) {
            int h = s[0], w = s[1], ch = s[2];
            double flops = 2.0 * ch * ch * 9 * h * w;
            for (Kernels a : List.of(Kernels.WINOGRAD, Kernels.IM2COL)) {
                c.add(new Case("conv3x3", h + "x" + w + "x" + ch, a.name().toLowerCase(), flops, a,
                        g -> g.conv2d(input(g, "x", 1, ch, h, w), weight(g, ch, ch, 3, 3), weight(g, ch), null, 1, Padding.same(1))));
            }
            if (h == 64) { // 2-byte weights (the AUTO policy picks Winograd at 64x64 and transforms filters from F16 taps)
                c.add(new Case("conv3x3", h + "x" + w + "x" + ch, "winograd f16 panels", flops, Kernels.F16_PANELS,
                        g -> g.conv2d(input(g, "x", 1, ch, h, w), weight(g, ch, ch, 3, 3), weight(g, ch), null, 1, Padding.same(1))));
            }
        }
        // The UNet's 3x3 layers at batch 2 (512x512 images), Winograd with its filters kept or transformed as the
        // layer runs (which the default takes where the filters do not fit the budget: the 16x16 level's 236-472
        // MB each). The 8x8 level (and 256x256 images' 4x4 level) as im2col, whose depths of 11520 and 23040 Gemm
        // splits into chunks, beside F(2x2) (the default's choice at 8x8) and F(4x4); and F(2x2) at 16x16, where the
        // default takes F(4x4).
        List<Kernels> both = List.of(Kernels.WINOGRAD, Kernels.WINOGRAD_STREAMED);
        List<Kernels> all = List.of(Kernels.WINOGRAD, Kernels.WINOGRAD_STREAMED, Kernels.IM2COL, Kernels.WINOGRAD_F2_STREAMED);
        List<Kernels> small = List.of(Kernels.IM2COL, Kernels.WINOGRAD_F2_STREAMED, Kernels.WINOGRAD_F2, Kernels.WINOGRAD_STREAMED);
        // Batch 1 (no classifier-free guidance) halves the tiles: the 8x8 level at one image.
        record Layer(int hw, int cin, int cout, int batch, List<Kernels> kernels) {
        }
        for (Layer s : List.of(new Layer(64, 320, 320, 2, both), new Layer(32, 640, 640, 2, both),
                new Layer(16, 1280, 1280, 2, all), new Layer(16, 2560, 1280, 2, all), new Layer(8, 2560, 1280, 2, small),
                new Layer(8, 1280, 1280, 2, small), new Layer(4, 2560, 1280, 2, small), new Layer(4, 1280, 1280, 2, small),
                new Layer(8, 1280, 1280, 1, small))) {
            int hw = s.hw(), cin = s.cin(), cout = s.cout(), batch = s.batch();
            for (Kernels k : s.kernels()) {
                c.add(new Case("conv3x3", hw + "x" + hw + " " + cin + "->" + cout + " batch " + batch,
                        k.name().toLowerCase().replace('_', ' '), 2.0 * batch * cout * cin * 9 * hw * hw, k,
                        g -> g.conv2d(input(g, "x", batch, cin, hw, hw), weight(g, cout, cin, 3, 3), weight(g, cout), null, 1,
                                Padding.same(1))));
            }
        }
        // The UNet's first and last layers at batch 2 (512x512 images): conv_in's 4 input channels and conv_out's 4
        // output channels, fewer than a register tile's rows
        for (int[] s : new int[][] {{4, 320}, {320, 4}}) {
            int cin = s[0], cout = s[1];
            c.add(new Case("conv3x3", "64x64 " + cin + "->" + cout + " batch 2", "", 2.0 * 2 * cout * cin * 9 * 64 * 64, Kernels.AUTO,
                    g -> g.conv2d(input(g, "x", 2, cin, 64, 64), weight(g, cout, cin, 3, 3), weight(g, cout), null, 1, Padding.same(1))));
        }
        // The UNet's 1x1 convolutions at batch 2 (512x512 images: the transformers' projections in and out; the
        // resnets' 320->640 and 640->1280 shortcuts)
        for (int[] s : new int[][] {{64, 320, 320}, {32, 640, 640}, {16, 1280, 1280}, {8, 1280, 1280}, {32, 320, 640}, {16, 640, 1280}}) {
            int hw = s[0], cin = s[1], cout = s[2];
            c.add(new Case("conv1x1", hw + "x" + hw + " " + cin + "->" + cout + " batch 2", "", 2.0 * 2 * cout * cin * hw * hw,
                    Kernels.AUTO, g -> g.conv2d(input(g, "x", 2, cin, hw, hw), weight(g, cout, cin, 1, 1), weight(g, cout), null, 1,
                    Padding.same(0))));
        }
        // SD 1.5's attention at 64x64, 32x32 and 16x16 latents (512x512 images; 256x256 images run the last
        // two shapes' rows at a quarter of the tokens), SDXL's 4096-token level, the text encoder's causal layer.
        attention(c, "self", 4096, 4096, 8, 40, false);
        attention(c, "cross", 4096, 77, 8, 40, false);
        attention(c, "self", 1024, 1024, 10, 64, false);
        attention(c, "cross", 1024, 77, 10, 64, false);
        attention(c, "self", 256, 256, 20, 64, false);
        attention(c, "cross", 256, 77, 20, 64, false);
        attention(c, "self", 4096, 4096, 10, 64, false);
        attention(c, "causal", 77, 77, 12, 64, true);
        // SD 1.5's cross-attention as the UNet runs it (batch 2: the guided and unguided halves; 8 heads at every
        // level), the 8x8 level's 64 queries included
        attention(c, "self", 2, 1024, 1024, 8, 40, false); // 256x256 images' 32x32 level
        attention(c, "cross", 2, 1024, 77, 8, 40, false); // the same level's cross-attention
        attention(c, "cross", 2, 4096, 77, 8, 40, false);
        attention(c, "cross", 2, 1024, 77, 8, 80, false);
        attention(c, "cross", 2, 256, 77, 8, 160, false);
        attention(c, "cross", 2, 64, 77, 8, 160, false);
        attention(c, "causal", 2, 77, 77, 12, 64, true);
        // Nominal 9 flops per element: 3 for the statistics, 2 for scale-shift, 4 for SiLU. Memory-bound, so
        // counted in bytes: 8 per element, one read of x and one write of y (the traffic the operator needs;
        // the statistics pass reads x once more, from L2 where a group fits there).
        for (int[] s : new int[][] {{64, 64, 320}, {32, 32, 640}, {512, 512, 128}}) {
            int h = s[0], w = s[1], ch = s[2];
            long elements = (long) h * w * ch;
            c.add(new Case("groupnorm+silu", h + "x" + w + "x" + ch + " 32 groups", "", 9.0 * elements, Kernels.AUTO,
                    8.0 * elements,
                    g -> g.groupNorm(input(g, "x", 1, ch, h, w), weight(g, ch), weight(g, ch), 32, 1e-5f, true)));
        }
        // The VAE's shape as its decoder runs the norm where the norm's input dies there (the second norm of each
        // ResNet block, the last norm): written over its input, into lines already in cache. The graph makes the
        // input (x + x) and reads the output (+ x); the row times the norm alone.
        long vae = 512L * 512 * 128;
        c.add(new Case("groupnorm+silu", "512x512x128 32 groups", "in place", 9.0 * vae, Kernels.AUTO, 8.0 * vae, "norm", g -> {
            Value x = input(g, "x", 1, 128, 512, 512);
            Value norm = g.groupNorm(g.add(x, x), weight(g, 128), weight(g, 128), 32, 1e-5f, true);
            return g.add(norm, x);
        }));
        // The VAE's shape without the SiLU: the same two passes over 4 MB groups, so the difference to the row
        // above is the SiLU's arithmetic, and what is left the passes' memory traffic
        c.add(new Case("groupnorm", "512x512x128 32 groups", "", 5.0 * vae, Kernels.AUTO, 8.0 * vae,
                g -> g.groupNorm(input(g, "x", 1, 128, 512, 512), weight(g, 128), weight(g, 128), 32, 1e-5f, false)));
        return c;
    }

    /** An attention row: 4 flops per query-key pair and head dimension (half the pairs with the causal mask). */
    private void attention(List<Case> c, String kind, int nq, int nk, int heads, int d, boolean causal) {
        attention(c, kind, 1, nq, nk, heads, d, causal);
    }

    private void attention(List<Case> c, String kind, int batch, int nq, int nk, int heads, int d, boolean causal) {
        double flops = 4.0 * batch * nq * nk * d * heads * (causal ? 0.5 : 1);
        String shape = kind + " " + (batch > 1 ? "b" + batch + " " : "") + nq + "x" + nk + " " + heads + " heads of " + d;
        c.add(new Case("attention", shape, "", flops, Kernels.AUTO,
                g -> g.attention(input(g, "q", batch, nq, heads * d), input(g, "k", batch, nk, heads * d),
                        input(g, "v", batch, nk, heads * d), heads, (float) (1 / Math.sqrt(d)), causal)));
    }

    /** Runs every case whose {@code op shape variant} name passes {@code filter}, handing each row to {@code sink}. */
    public List<Result> run(Predicate<String> filter, double peakGflops, double bandwidthGbps, Consumer<Result> sink) {
        List<Result> results = new ArrayList<>();
        for (Case c : cases()) {
            if (!filter.test(c.name())) {
                continue;
            }
            Result r = run(c, peakGflops, bandwidthGbps);
            results.add(r);
            sink.accept(r);
            owned.forEach(Tensor::close);
            owned.clear();
        }
        return results;
    }

    private Result run(Case c, double peak, double bandwidth) {
        CpuBackend backend = switch (c.kernels()) {
            case AUTO -> auto;
            case WINOGRAD -> winograd;
            case WINOGRAD_STREAMED -> streamed;
            case IM2COL -> im2col;
            case F16_PANELS -> f16Panels;
            case WINOGRAD_F2 -> f2;
            case WINOGRAD_F2_STREAMED -> f2Streamed;
        };
        GraphBuilder g = new GraphBuilder(c.name());
        g.output(c.recipe().apply(g));
        Graph graph = g.build();
        List<DeviceTensor> in = new ArrayList<>();
        List<DeviceTensor> out = new ArrayList<>();
        long before = backend.deviceBytesInUse();
        try (Executable exe = backend.compile(graph)) {
            for (Value v : graph.inputs()) {
                Tensor t = random(v.shape());
                in.add(backend.upload(t));
                t.close();
            }
            for (Value v : graph.outputs()) {
                out.add(backend.allocate(v.shape(), v.dtype()));
            }
            long outBytes = graph.outputs().stream().mapToLong(Value::byteSize).sum()
                    + graph.inputs().stream().mapToLong(Value::byteSize).sum();
            // Warm-up: the workspace's first growth and JIT compilation. At least three runs and a second
            // (or half the timing budget), and then on until the JIT has compiled nothing for 300 ms (at most
            // 10 s): on 2 cores the compiler threads would otherwise compete with the timed runs.
            CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
            boolean jitTimed = jit != null && jit.isCompilationTimeMonitoringSupported();
            long warmStart = System.nanoTime();
            long jitTime = jitTimed ? jit.getTotalCompilationTime() : 0;
            long jitQuietSince = warmStart;
            int warm = 0;
            while (true) {
                exe.run(in, out);
                warm++;
                long now = System.nanoTime();
                if (jitTimed && jit.getTotalCompilationTime() != jitTime) {
                    jitTime = jit.getTotalCompilationTime();
                    jitQuietSince = now;
                }
                boolean minimum = warm >= 3 && now - warmStart >= Math.max(1e9, 0.5e9 * seconds);
                boolean jitQuiet = now - jitQuietSince >= 300_000_000L;
                if (minimum && (jitQuiet || now - warmStart > 10e9)) {
                    break;
                }
            }
            List<Double> times = new ArrayList<>();
            BenchmarkThreads cpu = new BenchmarkThreads(backend.pool());
            long leastCpu = Long.MAX_VALUE;
            HeapAllocation allocation = HeapAllocation.sinceForAllThreads();
            long start = System.nanoTime();
            while (times.size() < 3 || (System.nanoTime() - start < seconds * 1e9 && times.size() < 1000)) {
                if (eviction != null) {
                    eviction.evict(backend.pool());
                }
                long c0 = cpu.cpuNanos();
                long t0 = System.nanoTime();
                if (c.timedKind() == null) {
                    exe.run(in, out);
                    times.add((System.nanoTime() - t0) / 1e6);
                } else {
                    times.add(timedOperatorMs(backend, exe, in, out, c.timedKind()));
                }
                leastCpu = Math.min(leastCpu, cpu.cpuNanos() - c0);
            }
            long allocatedBytes = allocation.bytes();
            double[] sorted = times.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            double ms = sorted[sorted.length / 2];
            double gflops = c.flops() / (ms / 1e3) / 1e9;
            long allocated = allocatedBytes < 0 ? -1 : allocatedBytes / times.size();
            long workspace = backend.deviceBytesInUse() - before - outBytes;
            double gbps = c.bytes() / (ms / 1e3) / 1e9;
            return new Result(c.op(), c.shape(), c.variant(), ms, gflops, peak > 0 ? gflops / peak : Double.NaN,
                    allocated, workspace, gbps, bandwidth > 0 ? gbps / bandwidth : Double.NaN,
                    cpu.supported() && c.timedKind() == null ? leastCpu / 1e6 : Double.NaN);
        } finally {
            in.forEach(DeviceTensor::close);
            out.forEach(DeviceTensor::close);
        }
    }

    /** Wall milliseconds of the one operator of kind {@code kind} in a run of {@code exe}, from a profile of that run. */
    private static double timedOperatorMs(CpuBackend backend, Executable exe, List<DeviceTensor> in, List<DeviceTensor> out, String kind) {
        OperatorProfile profile = new OperatorProfile();
        backend.profileOperators(profile);
        try {
            exe.run(in, out);
        } finally {
            backend.profileOperators(null);
        }
        return profile.rows().stream().filter(r -> r.kind().equals(kind)).findFirst()
                .orElseThrow(() -> new IllegalStateException("no operator of kind " + kind + " ran")).wallMs();
    }

    private Value input(GraphBuilder g, String name, long... dims) {
        return g.input(name, Shape.of(dims), DType.F32);
    }

    private Value weight(GraphBuilder g, long... dims) {
        Tensor t = random(Shape.of(dims));
        owned.add(t);
        return g.constant("w" + owned.size(), t);
    }

    private Tensor random(Shape shape) {
        Tensor t = Tensor.allocate(shape, DType.F32);
        double scale = shape.rank() > 1 ? 1 / Math.sqrt(shape.elementCount() / (double) shape.dim(0)) : 1;
        for (long i = 0; i < t.elementCount(); i++) {
            t.setFloat(i, (float) ((random.nextDouble() * 2 - 1) * scale));
        }
        return t;
    }

    public int threads() {
        return threads;
    }

    @Override
    public void close() {
        owned.forEach(Tensor::close);
        auto.close();
        winograd.close();
        im2col.close();
        f16Panels.close();
        streamed.close();
        f2.close();
        f2Streamed.close();
    }

    /** The CPU time of the benchmark's threads: the caller's and the pool's workers'. */
    private static final class BenchmarkThreads {
        private final ThreadMXBean bean = ManagementFactory.getThreadMXBean();
        private final long[] ids;

        BenchmarkThreads(WorkerPool pool) {
            long[] workers = pool.workerIds();
            ids = java.util.Arrays.copyOf(workers, workers.length + 1);
            ids[workers.length] = Thread.currentThread().threadId();
        }

        boolean supported() {
            return bean.isThreadCpuTimeSupported() && bean.isThreadCpuTimeEnabled();
        }

        long cpuNanos() {
            long sum = 0;
            for (long id : ids) {
                sum += Math.max(0, bean.getThreadCpuTime(id));
            }
            return sum;
        }
    }

    /** A quick run from the command line: {@code OpsBenchmark [threads] [seconds] [filter]}. */
    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : CpuSettings.threads();
        double seconds = args.length > 1 ? Double.parseDouble(args[1]) : 1;
        String filter = args.length > 2 ? args[2] : "";
        try (OpsBenchmark b = new OpsBenchmark(threads, seconds, false)) {
            double peak = b.measurePeak();
            System.out.printf("%s; F32 FMA peak %.1f GFLOP/s%n", b.deviceDescription(), peak);
            b.run(n -> n.contains(filter), peak, b.measureBandwidth(), r -> System.out.printf("%-16s %-32s %-9s %9.2f ms %8.1f GFLOP/s %5.1f%% alloc %d ws %d%n",
                    r.op(), r.shape(), r.variant(), r.ms(), r.gflops(), 100 * r.fractionOfPeak(), r.allocatedBytes(), r.workspaceBytes()));
        }
    }
}
