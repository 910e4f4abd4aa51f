package io.jdiffusion.tornado;

import io.jdiffusion.backend.DeviceTensor;
import io.jdiffusion.backend.Executable;
import io.jdiffusion.backend.HostRunner;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.backend.testing.PoisonedOutputs;
import io.jdiffusion.backend.testing.TestRandom;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Numerics;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.models.unet.UNetCall;
import io.jdiffusion.testdata.TinySd;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A graph's steady inputs ({@link GraphBuilder#steadyInput}) stay on the device between runs: a run with the same
 * tensor, not written since, copies only the other inputs in. The bytes are TornadoVM's own count: the buffers its
 * profiler reports copied to the device in each execution of the plan ({@link KernelProfile#dataCopyInBytes}; the
 * launch frames, the kernel arguments TornadoVM writes at every launch, are counted apart), so a copy that still
 * happened cannot hide. Changing the steady input (an upload into the same tensor, another tensor, or another run
 * writing it as its output) copies it again, and every run's output equals backend-cpu's on the inputs of that run,
 * which a stale device copy would not.
 */
class SteadyInputTest extends TornadoBesideCpu {
    /**
     * Bytes copied beyond the inputs themselves: TornadoVM's array header (16 bytes on each copied array), the
     * alignment of each input to 16 elements, and the one-int placeholder of a graph without integer inputs.
     */
    private static final long ARRAY_OVERHEAD = 256;
    private static final double F32_TOLERANCE = 1e-4;
    /** F16 activations and tensor-core products through a whole UNet (TornadoTinyModelTest's bound). */
    private static final double F16_TOLERANCE = 1e-2;
    private static final int BATCH = 2;
    private static final int QUERIES = 16;
    private static final int KEYS = 24;
    private static final int WIDTH = 64;

    private final TestRandom random = TestRandom.fresh();
    private final List<AutoCloseable> toClose = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : toClose.reversed()) {
            c.close();
        }
        toClose.clear();
    }

    /**
     * Cross-attention from per-run queries x to a steady context, in chained task graphs of two tasks (so the
     * context's buffer passes through several graphs between runs): copied in the first run, not in the second,
     * again after an upload into the same tensor, again from another tensor with the same values, then not again.
     */
    @Test
    void aSteadyInputIsCopiedOnlyWhenItChanges() {
        Graph graph = crossAttention();
        TornadoExecutable exe = own(compileCounted(graph, Precision.F32, 2));
        assertThat(exe.graphCount()).as("task graphs: the steady upload and a chain").isGreaterThan(2);
        exe.prepare();
        DeviceTensor context = own(tornado.allocate(graph.inputs().get(1).shape(), DType.F32));
        Tensor contextA = own(random.normal(context.shape(), 1));
        Tensor contextB = own(random.normal(context.shape(), 1));
        long contextBytes = contextA.byteSize();
        long queryBytes = (long) BATCH * QUERIES * WIDTH * Float.BYTES;
        assertThat(contextBytes).as("a copied context would show above the overhead").isGreaterThan(ARRAY_OVERHEAD);

        tornado.upload(contextA, context);
        long first = run(exe, graph, context, contextA, "first run");
        long same = run(exe, graph, context, contextA, "same context");
        tornado.upload(contextB, context);
        long reuploaded = run(exe, graph, context, contextB, "context uploaded again");
        DeviceTensor another = own(tornado.upload(contextB));
        long anotherTensor = run(exe, graph, another, contextB, "another context tensor, same values");
        long anotherAgain = run(exe, graph, another, contextB, "that tensor again");
        System.out.printf(Locale.ROOT, "bytes copied in: first %d, same context %d, uploaded again %d, another tensor %d, again %d%n",
                first, same, reuploaded, anotherTensor, anotherAgain);

        assertThat(first).as("first run: queries and context").isGreaterThanOrEqualTo(queryBytes + contextBytes);
        assertThat(same).as("same context: the queries only").isBetween(queryBytes, queryBytes + ARRAY_OVERHEAD);
        assertThat(first - same).as("the context's copy").isGreaterThanOrEqualTo(contextBytes);
        assertThat(reuploaded).as("after an upload into the context").isEqualTo(first);
        assertThat(anotherTensor).as("another context tensor").isEqualTo(first);
        assertThat(anotherAgain).as("that tensor again").isEqualTo(same);
    }

    /**
     * The context written by another executable's run (as the text encoder writes the conditioning): copied after
     * each such run, and not between them.
     */
    @Test
    void aSteadyInputWrittenByAnotherRunIsCopiedAgain() {
        GraphBuilder b = new GraphBuilder("context-writer");
        Value e = b.input("e", Shape.of(BATCH, KEYS, WIDTH), DType.F32);
        b.output(b.linear(e, weight(b, "w"), null));
        Graph writer = b.build();
        Graph graph = crossAttention();
        Executable writes = own(tornado.compile(writer, Precision.F32));
        TornadoExecutable exe = own(compileCounted(graph, Precision.F32, 0));
        exe.prepare();
        DeviceTensor input = own(tornado.allocate(e.shape(), DType.F32));
        DeviceTensor context = own(tornado.allocate(e.shape(), DType.F32));

        long[] copies = new long[4];
        for (int round = 0; round < 2; round++) {
            try (Tensor hostInput = random.normal(e.shape(), 1)) {
                tornado.upload(hostInput, input);
                writes.run(List.of(input), List.of(context));
            }
            try (Tensor written = tornado.download(context)) {
                copies[2 * round] = run(exe, graph, context, written, "after the writer's run " + round);
                copies[2 * round + 1] = run(exe, graph, context, written, "again, context unchanged " + round);
            }
        }
        System.out.printf(Locale.ROOT, "bytes copied in: written %d, unchanged %d, written %d, unchanged %d%n",
                copies[0], copies[1], copies[2], copies[3]);
        long contextBytes = (long) BATCH * KEYS * WIDTH * Float.BYTES;
        assertThat(copies[0] - copies[1]).as("the context's copy after it was written").isGreaterThanOrEqualTo(contextBytes);
        assertThat(copies[2]).as("written again").isEqualTo(copies[0]);
        assertThat(copies[3]).as("unchanged").isEqualTo(copies[1]);
    }

    /**
     * The check of a denoising loop: a UNet executable asked for F16 (on a device without F16, PoCL, it
     * computes in F32) gets the same conditioning tensor at every call and new latents and timestep, as the pipeline
     * gives them. After the first call, each call copies in the latents and the timestep and nothing else; a new
     * prompt's conditioning is copied once. Every call equals backend-cpu.
     */
    @Test
    void aUNetCallCopiesOnlyTheLatentsAndTimestepWhileTheConditioningStays() {
        StableDiffusion model = own(StableDiffusion.load(TinySd.modelDir(), null));
        Graph graph = model.unet().graph(new UNetCall(BATCH, 8, 8, 77));
        assertThat(graph.inputs()).as("SD 1.5-shaped UNet: sample, timestep, context").hasSize(3);
        assertThat(graph.isSteady(graph.inputs().get(2))).as("the context is steady").isTrue();
        TornadoExecutable exe = own(compileCounted(graph, Precision.F16, 0));
        double tolerance = exe.precision() == Precision.F16 ? F16_TOLERANCE : F32_TOLERANCE;
        exe.prepare();
        Value sampleValue = graph.inputs().get(0);
        Value contextValue = graph.inputs().get(2);
        long perCall = sampleValue.byteSize() + graph.inputs().get(1).byteSize();
        DeviceTensor context = own(tornado.allocate(contextValue.shape(), DType.F32));

        long[] copies = new long[5];
        for (int call = 0; call < copies.length; call++) {
            if (call == 0 || call == 3) { // a prompt, then a new prompt
                try (Tensor embeddings = random.normal(contextValue.shape(), 1)) {
                    tornado.upload(embeddings, context);
                }
            }
            copies[call] = unetCall(exe, graph, context, tolerance, call);
        }
        System.out.printf(Locale.ROOT, "UNet (%s) bytes copied in per call: %d %d %d | new prompt %d %d (latents and timestep %d, context %d)%n",
                exe.precision(), copies[0], copies[1], copies[2], copies[3], copies[4], perCall, contextValue.byteSize());
        assertThat(copies[0]).as("first call").isGreaterThanOrEqualTo(perCall + contextValue.byteSize());
        for (int call : new int[]{1, 2, 4}) {
            assertThat(copies[call]).as("call %d: the latents and the timestep only", call).isBetween(perCall, perCall + ARRAY_OVERHEAD);
        }
        assertThat(copies[2]).isEqualTo(copies[1]);
        assertThat(copies[3]).as("the new prompt's conditioning is copied").isEqualTo(copies[0]);
    }

    /** One UNet call as the pipeline makes it: new sample and timestep tensors, the loop's conditioning tensor. */
    private long unetCall(TornadoExecutable exe, Graph graph, DeviceTensor context, double tolerance, int call) {
        Value sampleValue = graph.inputs().get(0);
        Value out = graph.outputs().getFirst();
        try (Tensor sample = random.normal(sampleValue.shape(), 1);
             Tensor timestep = random.uniform(graph.inputs().get(1).shape(), 0, 1000);
             Tensor hostContext = tornado.download(context);
             DeviceTensor dSample = tornado.upload(sample);
             DeviceTensor dTimestep = tornado.upload(timestep);
             DeviceTensor prediction = tornado.allocate(out.shape(), DType.F32)) {
            PoisonedOutputs.poison(tornado, prediction);
            exe.run(List.of(dSample, dTimestep, context), List.of(prediction));
            long copied = KernelProfile.dataCopyInBytes(exe);
            try (Tensor actual = tornado.download(prediction);
                 Tensor expected = HostRunner.run(cpu, graph, List.of(sample, timestep, hostContext)).getFirst()) {
                double err = Numerics.relativeL2(actual, expected);
                System.out.printf(Locale.ROOT, "UNet call %d relL2 %.3e%n", call, err);
                assertThat(err).as("UNet call %d against backend-cpu; %s", call, random).isLessThanOrEqualTo(tolerance);
            }
            return copied;
        }
    }

    /**
     * Runs {@code exe} on fresh queries and {@code context} (whose host contents are {@code contextHost}), checks the
     * output against backend-cpu and returns the bytes copied to the device.
     */
    private long run(TornadoExecutable exe, Graph graph, DeviceTensor context, Tensor contextHost, String what) {
        Value out = graph.outputs().getFirst();
        try (Tensor x = random.normal(graph.inputs().getFirst().shape(), 1);
             DeviceTensor dx = tornado.upload(x);
             DeviceTensor output = tornado.allocate(out.shape(), out.dtype())) {
            PoisonedOutputs.poison(tornado, output);
            exe.run(List.of(dx, context), List.of(output));
            long copied = KernelProfile.dataCopyInBytes(exe);
            try (Tensor actual = tornado.download(output);
                 Tensor expected = HostRunner.run(cpu, graph, List.of(x, contextHost)).getFirst()) {
                assertThat(Numerics.relativeL2(actual, expected)).as("%s; %s", what, random).isLessThanOrEqualTo(F32_TOLERANCE);
            }
            return copied;
        }
    }

    /** x [BATCH, QUERIES, WIDTH] attends to a steady context [BATCH, KEYS, WIDTH] through projections, plus x. */
    private Graph crossAttention() {
        GraphBuilder b = new GraphBuilder("steady-cross-attention");
        Value x = b.input("x", Shape.of(BATCH, QUERIES, WIDTH), DType.F32);
        Value context = b.steadyInput("context", Shape.of(BATCH, KEYS, WIDTH), DType.F32);
        Value q = b.linear(x, weight(b, "q"), null);
        Value k = b.linear(context, weight(b, "k"), null);
        Value v = b.linear(context, weight(b, "v"), null);
        Value a = b.attention(q, k, v, 2, (float) (1 / Math.sqrt(WIDTH / 2.0)), false);
        b.output(b.linear(a, weight(b, "o"), null, Activation.NONE, x));
        return b.build();
    }

    private Value weight(GraphBuilder b, String name) {
        return b.constant(name, own(random.normal(Shape.of(WIDTH, WIDTH), 1 / Math.sqrt(WIDTH))));
    }

    private <T extends AutoCloseable> T own(T resource) {
        toClose.add(resource);
        return resource;
    }
}
