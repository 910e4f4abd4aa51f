package io.jdiffusion.cpu;

import io.jdiffusion.backend.DeviceTensor;
import io.jdiffusion.backend.Executable;
import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Padding;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.backend.testing.TestRandom;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The CPU backend gives the same bits for the same inputs: whatever the load on its worker pool, whatever
 * its thread count, and whichever JIT tier (interpreter, C1, C2) happens to run the kernels. Every
 * reduction (GEMM depth, attention keys, norm statistics, softmax) runs inside one task in a fixed order,
 * and the transcendental functions and horizontal sums are {@link VectorMath}'s.
 */
class CpuDeterminismTest {
    /** A network with every reducing and transcendental kernel: norms, GEMMs with activations, attention, softmax, conv. */
    static Graph network() {
        TestRandom random = new TestRandom(20261204L);
        GraphBuilder g = new GraphBuilder("determinism");
        Value x = g.input("x", Shape.of(2, 24, 32), DType.F32);
        Value ln = g.layerNorm(x, g.constant("ln.g", random.normal(Shape.of(32), 1, 0.1)),
                g.constant("ln.b", random.normal(Shape.of(32), 0.1)), 1e-5f);
        Value q = g.linear(ln, g.constant("q", random.normal(Shape.of(32, 32), 0.3)), null);
        Value k = g.linear(ln, g.constant("k", random.normal(Shape.of(32, 32), 0.3)), null);
        Value v = g.linear(ln, g.constant("v", random.normal(Shape.of(32, 32), 0.3)), null);
        Value causal = g.attention(q, k, v, 4, 0.35f, true);
        Value full = g.attention(causal, k, v, 2, 0.25f, false);
        Value mlp = g.linear(full, g.constant("fc1", random.normal(Shape.of(48, 32), 0.3)),
                g.constant("fc1.b", random.normal(Shape.of(48), 0.1)), Activation.GELU, null);
        mlp = g.unary(mlp, Activation.QUICK_GELU);
        mlp = g.unary(mlp, Activation.GELU_TANH);
        Value back = g.linear(mlp, g.constant("fc2", random.normal(Shape.of(32, 48), 0.3)), null, Activation.SILU, x);
        Value image = g.reshape(back, 2, 8, 12, 8);
        Value normed = g.groupNorm(image, g.constant("gn.g", random.normal(Shape.of(8), 1, 0.1)),
                g.constant("gn.b", random.normal(Shape.of(8), 0.1)), 4, 1e-5f, true);
        Value conv = g.conv2d(normed, g.constant("conv", random.normal(Shape.of(8, 8, 3, 3), 0.2)),
                g.constant("conv.b", random.normal(Shape.of(8), 0.1)), null, 1, Padding.same(1));
        g.output(g.softmax(g.reshape(conv, 2, 8, 96)));
        return g.build();
    }

    static Tensor input() {
        return new TestRandom(7L).normal(Shape.of(2, 24, 32), 1.5);
    }

    /** The output bits of {@code runs} calls of the network on one backend, one array per call. */
    static List<int[]> run(CpuBackend backend, Executable exe, Tensor input, int runs) {
        List<int[]> bits = new ArrayList<>();
        try (DeviceTensor in = backend.upload(input); DeviceTensor out = backend.allocate(Shape.of(2, 8, 96), DType.F32)) {
            for (int i = 0; i < runs; i++) {
                exe.run(List.of(in), List.of(out));
                try (Tensor t = backend.download(out)) {
                    float[] f = t.toFloatArray();
                    int[] b = new int[f.length];
                    for (int j = 0; j < f.length; j++) {
                        b[j] = Float.floatToRawIntBits(f[j]);
                    }
                    bits.add(b);
                }
            }
        }
        return bits;
    }

    @Test
    void sameBitsWhileAnotherThreadLoadsThePool() throws Exception {
        Graph graph = network();
        try (CpuBackend backend = new CpuBackend(3); Executable exe = backend.compile(graph);
             Executable other = backend.compile(network()); Tensor input = input()) {
            int[] quiet = run(backend, exe, input, 1).getFirst();
            AtomicBoolean stop = new AtomicBoolean();
            Thread loader = new Thread(() -> {
                while (!stop.get()) {
                    run(backend, other, input, 1);
                }
            }, "pool-loader");
            loader.start();
            List<int[]> loaded;
            try {
                loaded = run(backend, exe, input, 40);
            } finally {
                stop.set(true);
                loader.join(TimeUnit.SECONDS.toMillis(30));
            }
            for (int i = 0; i < loaded.size(); i++) {
                assertThat(loaded.get(i)).as("call %d under load", i).containsExactly(quiet);
            }
        }
    }

    @Test
    void sameBitsForEveryThreadCount() {
        try (Tensor input = input()) {
            int[] reference = null;
            for (int threads : new int[]{1, 3}) {
                try (CpuBackend backend = new CpuBackend(threads); Executable exe = backend.compile(network())) {
                    int[] bits = run(backend, exe, input, 1).getFirst();
                    if (reference == null) {
                        reference = bits;
                    } else {
                        assertThat(bits).as("%d threads", threads).containsExactly(reference);
                    }
                }
            }
        }
    }

    /**
     * Code compiled by C1 alone (a child JVM that stops at tier 1; like the interpreter, C1 runs the Vector
     * API's Java fallbacks) and this JVM's C2 code, after warming up, give the same bits.
     */
    @Test
    void sameBitsInFirstTierAndFullyCompiledCode(@TempDir Path dir) throws Exception {
        // once, at the default width: the forced-width executions rerun the other two tests
        assumeTrue(System.getProperty(CpuSettings.VECTOR_BITS) == null, "runs at the default vector width");
        Path c1 = dir.resolve("c1.bin");
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1", "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"));
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), FirstTierRun.class.getName(), c1.toString()));
        Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
        String log = new String(child.getInputStream().readAllBytes());
        assertThat(child.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(child.exitValue()).as(log).isZero();
        int[] expected = read(c1);
        try (CpuBackend backend = new CpuBackend(2); Executable exe = backend.compile(network()); Tensor input = input()) {
            List<int[]> compiled = run(backend, exe, input, 150); // long enough for C2 to compile the kernels
            assertThat(compiled.getLast()).containsExactly(expected);
        }
    }

    static int[] read(Path file) throws IOException {
        try (DataInputStream in = new DataInputStream(Files.newInputStream(file))) {
            int[] bits = new int[in.readInt()];
            for (int i = 0; i < bits.length; i++) {
                bits[i] = in.readInt();
            }
            return bits;
        }
    }

    /** The child JVM's side: one call of the network, its output bits written to the file named by args[0]. */
    static final class FirstTierRun {
        public static void main(String[] args) throws IOException {
            try (CpuBackend backend = new CpuBackend(2); Executable exe = backend.compile(network()); Tensor input = input();
                 DataOutputStream out = new DataOutputStream(Files.newOutputStream(Path.of(args[0])))) {
                int[] bits = run(backend, exe, input, 1).getFirst();
                out.writeInt(bits.length);
                for (int b : bits) {
                    out.writeInt(b);
                }
            }
        }
    }
}
