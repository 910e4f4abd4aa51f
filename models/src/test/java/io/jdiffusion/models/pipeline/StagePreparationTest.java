package io.jdiffusion.models.pipeline;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import io.jdiffusion.backend.DeviceTensor;
import io.jdiffusion.backend.Executable;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.testing.ForwardingBackend;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.testdata.TinySd;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A backend that compiles its kernels on first use (as TornadoVM does) has that compilation counted as the
 * preparation of a generation, not inside the text-encoder, UNet and VAE stages: the pipeline (through
 * {@link NetworkRunner}) asks every executable to {@link Executable#prepare()} before its first run. The
 * backend here is the CPU backend with a stand-in JIT: an executable's JIT runs in prepare() if asked, else in
 * its first run, and each step is written to an event log whose order the test checks.
 */
class StagePreparationTest {
    /** What the stand-in JIT costs per network: long enough to stand out of a tiny model's stages. */
    private static final long JIT_MS = 40;
    private static StableDiffusion model;
    private static Backend cpu;

    @BeforeAll
    static void load() {
        model = StableDiffusion.load(TinySd.modelDir(), null);
        cpu = Backends.create("cpu");
    }

    @AfterAll
    static void close() {
        cpu.close();
        model.close();
    }

    @Test
    void everyNetworkIsJitCompiledBeforeItsFirstRunAndCountedAsPreparation() {
        JitOnFirstUse backend = new JitOnFirstUse(cpu);
        GenerationRequest request = GenerationRequest.builder().prompt("a red cube").seed(7).sampler("euler").steps(2)
                .size(16, 16).build();
        try (StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model, backend, Precision.F32);
             GenerationResult result = pipeline.generate(request, ProgressListener.NONE)) {
            List<String> events = backend.events();
            List<String> networks = events.stream().filter(e -> e.startsWith("compile ")).map(e -> e.substring(8)).toList();
            assertThat(networks).as(events.toString()).hasSize(3)
                    .anyMatch(n -> n.startsWith("clip_text_encoder")).anyMatch(n -> n.startsWith("unet"))
                    .anyMatch(n -> n.startsWith("vae_decoder"));
            for (String n : networks) {
                assertThat(events).as(n).containsSubsequence("compile " + n, "jit " + n + " in prepare", "run " + n)
                        .doesNotContain("jit " + n + " in first run");
            }
            // the stand-in JIT took at least JIT_MS per network, all of it inside the preparation figure
            assertThat(result.timings().preparationMs()).isGreaterThanOrEqualTo(networks.size() * (double) JIT_MS);
        }
    }

    @Test
    void aSecondGenerationWithTheSameShapesPreparesNothing() {
        JitOnFirstUse backend = new JitOnFirstUse(cpu);
        GenerationRequest request = GenerationRequest.builder().prompt("a red cube").steps(1).size(16, 16).build();
        try (StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model, backend, Precision.F32)) {
            pipeline.generate(request, ProgressListener.NONE).close();
            int firstEvents = backend.events().size();
            pipeline.generate(request.toBuilder().seed(1).build(), ProgressListener.NONE).close();
            assertThat(backend.events().subList(firstEvents, backend.events().size())).isNotEmpty()
                    .allMatch(e -> e.startsWith("run "));
        }
    }

    /** The stand-in JIT backend, on the CPU backend. */
    static final class JitOnFirstUse extends ForwardingBackend {
        private final List<String> events = Collections.synchronizedList(new ArrayList<>());
        private int compiled;

        JitOnFirstUse(Backend inner) {
            super(inner);
        }

        @Override
        public Executable compile(Graph graph, Precision precision) {
            String label = graph.name() + "#" + compiled++;
            events.add("compile " + label);
            return new JitExecutable(inner.compile(graph, precision), label, events);
        }

        List<String> events() {
            return List.copyOf(events);
        }
    }

    /** Runs its inner executable; compiles (spins JIT_MS) in prepare() or, if not prepared, in its first run. */
    private static final class JitExecutable implements Executable {
        private final Executable inner;
        private final String label;
        private final List<String> events;
        private boolean compiled;

        JitExecutable(Executable inner, String label, List<String> events) {
            this.inner = inner;
            this.label = label;
            this.events = events;
        }

        private void jit(String when) {
            if (!compiled) {
                events.add("jit " + label + " " + when);
                long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(JIT_MS);
                while (System.nanoTime() < end) {
                    Thread.onSpinWait();
                }
                compiled = true;
            }
        }

        @Override
        public void prepare() {
            jit("in prepare");
        }

        @Override
        public void run(List<? extends DeviceTensor> inputs, List<? extends DeviceTensor> outputs) {
            jit("in first run");
            events.add("run " + label);
            inner.run(inputs, outputs);
        }

        @Override
        public Graph graph() {
            return inner.graph();
        }

        @Override
        public Precision precision() {
            return inner.precision();
        }

        @Override
        public long arenaBytes() {
            return inner.arenaBytes();
        }

        @Override
        public void close() {
            inner.close();
        }
    }
}
