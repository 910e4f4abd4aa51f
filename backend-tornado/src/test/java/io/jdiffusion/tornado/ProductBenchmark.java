package io.jdiffusion.tornado;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import io.jdiffusion.backend.DeviceTensor;
import io.jdiffusion.backend.Executable;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Padding;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.backend.testing.Problem;
import io.jdiffusion.backend.testing.ProblemBuilder;
import io.jdiffusion.backend.testing.TestRandom;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.function.ToDoubleFunction;

/**
 * Device time of single UNet-sized matrix products on the TornadoVM device, F32 and F16 (tensor cores), as
 * achieved TFLOP/s: the kernel time from TornadoVM's profiler averaged over the timed runs (the per-run input
 * copy is not included). Run with {@code -Djdiffusion.tornado.profile=true}. The F32 3x3 convolutions run twice,
 * as the implicit GEMM ("direct") and as Winograd F(4x4,3x3) (its three kernels together), both rated by the
 * direct convolution's FLOPs, 2 B H W Cout Cin 9. The VAE's attention (one head of 512 over 64x64 latents) and the
 * UNet's self-attention at its second and third levels run as two products around a softmax ({@code ScoreAttention}) and,
 * for comparison, on the flash kernels ({@value TornadoSettings#WIDE_HEAD_ATTENTION}=false for the VAE's wide head,
 * {@value TornadoSettings#SCORE_ATTENTION_KEYS}=0 for the UNet's), rated by the two products' FLOPs, 4 B heads nq nk d;
 * their kernel time is every kernel of the call but the poisoning, the chain's touch tasks and the inputs' staging.
 * The third argument keeps the rows whose label starts with it ({@code conv3x3}, {@code linear}, {@code attention}).
 *
 * <pre>
 * java @$TORNADOVM_HOME/tornado-argfile -Djdiffusion.tornado.profile=true -cp ... io.jdiffusion.tornado.ProductBenchmark [runs [f16|both [rows]]]
 * </pre>
 */
public final class ProductBenchmark {
    /** The rows to run: those whose label starts with the third argument (all where none is given). */
    private static String rows = "";

    private ProductBenchmark() {
    }

    public static void main(String[] args) {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        Precision[] precisions = args.length > 1 && args[1].equals("f16") ? new Precision[]{Precision.F16}
                : new Precision[]{Precision.F16, Precision.F32};
        rows = args.length > 2 ? args[2] : "";
        try (Backend backend = Backends.create(TornadoBackendProvider.NAME)) {
            System.out.println("backend tornado on " + backend.deviceDescription());
            for (Precision p : precisions) {
                // The UNet's largest products at 512x512, batch 2: attention projections at 64x64 latents, the
                // feed-forward GEGLU, and the 3x3 convolutions of each level (the deeper ones have few output
                // tiles: the tensor-core GEMM splits them along K, see SplitK); the VAE's at 64x64 and 512x512.
                linear(backend, p, runs, 8192, 320, 320, Activation.NONE);
                linear(backend, p, runs, 8192, 320, 2560, Activation.GEGLU);
                linear(backend, p, runs, 2048, 640, 640, Activation.NONE);
                conv(backend, p, runs, 2, 320, 64, 64, 320);
                conv(backend, p, runs, 2, 640, 32, 32, 640);
                conv(backend, p, runs, 2, 1280, 16, 16, 1280);
                conv(backend, p, runs, 2, 1280, 8, 8, 1280);
                conv(backend, p, runs, 1, 512, 64, 64, 512);
                conv(backend, p, runs, 1, 128, 512, 512, 128);
                // the VAE decoder's (4096 tokens at 512x512, one head of 512); the UNet's self-attention at its second
                // and third levels (8 heads of 80 over 1024 tokens, of 160 over 256) and SDXL's at its third at
                // 1024x1024 (20 heads of 64 over 1024 tokens); ScoreAttention takes the first, and the others where
                // TornadoSettings.SCORE_ATTENTION_KEYS asks for it
                attention(backend, p, runs, 1, 4096, 1, 512, TornadoSettings.WIDE_HEAD_ATTENTION, "true", "false");
                attention(backend, p, runs, 2, 1024, 8, 80, TornadoSettings.SCORE_ATTENTION_KEYS, "1", "0");
                attention(backend, p, runs, 2, 256, 8, 160, TornadoSettings.SCORE_ATTENTION_KEYS, "1", "0");
                attention(backend, p, runs, 2, 1024, 20, 64, TornadoSettings.SCORE_ATTENTION_KEYS, "1", "0");
                // the UNet's first-level self-attention (8 heads of 40 over 4096 tokens), which only the flash kernel
                // takes (ScoreAttention.MIN_HEAD)
                attention(backend, p, runs, 2, 4096, 8, 40, TornadoSettings.SCORE_ATTENTION_KEYS, null, "0");
            }
        }
    }

    private static void linear(Backend backend, Precision p, int runs, int m, int k, int n, Activation act) {
        String what = String.format(Locale.ROOT, "linear %dx%dx%d %s", m, k, n, act);
        if (!what.startsWith(rows)) {
            return;
        }
        GraphBuilder g = new GraphBuilder("linear");
        Value x = g.input("x", Shape.of(m, k), DType.F32);
        Value w = g.constant("w", random(Shape.of(n, k), 1 / Math.sqrt(k)));
        Value b = g.constant("b", random(Shape.of(n), 0.1));
        g.output(g.linear(x, w, b, act, null));
        report(backend, g.build(), p, runs, 2.0 * m * n * k, what);
    }

    /**
     * A 3x3 convolution; in F32 twice, compiled with Winograd off and on (the property is read when a graph is
     * compiled), both rated by the direct convolution's FLOPs so that the two rows compare times.
     */
    private static void conv(Backend backend, Precision p, int runs, int batch, int cin, int h, int w, int cout) {
        String what = String.format(Locale.ROOT, "conv3x3 %dx%dx%dx%d -> %d", batch, cin, h, w, cout);
        if (!what.startsWith(rows)) {
            return;
        }
        GraphBuilder g = new GraphBuilder("conv");
        Value x = g.input("x", Shape.of(batch, cin, h, w), DType.F32);
        Value wt = g.constant("w", random(Shape.of(cout, cin, 3, 3), 1 / Math.sqrt(9.0 * cin)));
        Value b = g.constant("b", random(Shape.of(cout), 0.1));
        g.output(g.conv2d(x, wt, b, null, 1, Padding.same(1)));
        Graph graph = g.build();
        double flops = 2.0 * batch * h * w * cout * cin * 9;
        if (p != Precision.F32) {
            report(backend, graph, p, runs, flops, what);
            return;
        }
        try (TemporaryProperties ignored = TemporaryProperties.set(TornadoSettings.WINOGRAD, "false")) {
            report(backend, graph, p, runs, flops, what + " direct");
        }
        try (TemporaryProperties ignored = TemporaryProperties.set(TornadoSettings.WINOGRAD, "true")) {
            report(backend, graph, p, runs, flops, what + " winograd");
        }
    }

    /**
     * An attention of {@code batch} x {@code tokens} queries and keys in {@code heads} heads of {@code d}, its operands in
     * the activation arena as in the networks (each input goes through an addition of 0), as two products around a
     * softmax and on the flash kernel: the setting {@code route} at {@code scores} (null: no such row), then at
     * {@code flash}.
     */
    private static void attention(Backend backend, Precision p, int runs, int batch, int tokens, int heads, int d, String route,
                                  String scores, String flash) {
        String what = String.format(Locale.ROOT, "attention %dx%d tokens, %s of %d", batch, tokens,
                heads == 1 ? "one head" : heads + " heads", d);
        if (!what.startsWith(rows)) {
            return;
        }
        ProblemBuilder b = new ProblemBuilder("attention", TestRandom.fresh(), true);
        Value q = b.input("q", batch, tokens, heads * d);
        Value k = b.input("k", batch, tokens, heads * d);
        Value v = b.input("v", batch, tokens, heads * d);
        double flops = 4.0 * batch * heads * tokens * tokens * d;
        try (Problem problem = b.build(b.graph().attention(q, k, v, heads, (float) (1 / Math.sqrt(d)), false))) {
            if (scores != null) {
                try (TemporaryProperties ignored = TemporaryProperties.set(route, scores)) {
                    reportAttention(backend, problem, p, runs, flops, what + " scores");
                }
            }
            try (TemporaryProperties ignored = TemporaryProperties.set(route, flash)) {
                reportAttention(backend, problem, p, runs, flops, what + " flash");
            }
        }
    }

    /**
     * As {@link #report}, for a graph of one attention and its staging: the kernel time of every kernel but those, then
     * each kernel's time and launches.
     */
    private static void reportAttention(Backend backend, Problem problem, Precision p, int runs, double flops, String what) {
        KernelProfile profile = time(backend, problem.graph(), problem.inputs(), p, runs, flops, what,
                k -> k.totalMs() - k.ms("PointwiseKernels.fill", "PointwiseKernels.touch", "PointwiseKernels.binary"));
        if (profile != null) {
            System.out.println("KERNELS " + profile.breakdown());
        }
    }

    private static void report(Backend backend, Graph graph, Precision p, int runs, double flops, String what) {
        try (Tensor host = random(graph.inputs().getFirst().shape(), 1)) {
            time(backend, graph, List.of(host), p, runs, flops, what,
                    k -> k.ms("GemmKernels", "TensorCoreKernels", "TensorCoreAsyncGemm", "WinogradKernels"));
        }
    }

    /**
     * Compiles {@code graph}, runs it once on {@code inputs} and then {@code runs} times, and prints the wall time per run
     * and the kernel time per run that {@code kernelMs} takes from TornadoVM's profile; returns that profile (null where
     * the backend's executable has none).
     */
    private static KernelProfile time(Backend backend, Graph graph, List<Tensor> inputs, Precision p, int runs, double flops, String what,
                             ToDoubleFunction<KernelProfile> kernelMs) {
        Value outV = graph.outputs().getFirst();
        List<DeviceTensor> in = inputs.stream().map(backend::upload).toList();
        try (DeviceTensor out = backend.allocate(outV.shape(), outV.dtype()); Executable exe = backend.compile(graph, p)) {
            exe.run(in, List.of(out));
            long t0 = System.nanoTime();
            for (int r = 0; r < runs; r++) {
                exe.run(in, List.of(out));
            }
            double wallMs = (System.nanoTime() - t0) / 1e6 / runs;
            KernelProfile profile = exe instanceof TornadoExecutable te ? KernelProfile.of(te) : null;
            double ms = profile != null ? kernelMs.applyAsDouble(profile) : Double.NaN;
            System.out.printf(Locale.ROOT, "PRODUCT %-45s precision=%s used=%s kernel_ms=%.3f tflops=%.1f wall_ms=%.2f%n", what, p,
                    exe.precision(), ms, flops / (ms * 1e9), wallMs);
            return profile;
        } finally {
            in.forEach(DeviceTensor::close);
        }
    }

    private static Tensor random(Shape shape, double std) {
        Random r = new Random(shape.hashCode());
        float[] v = new float[Math.toIntExact(shape.elementCount())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (r.nextGaussian() * std);
        }
        return Tensor.ofFloats(shape, v);
    }
}
