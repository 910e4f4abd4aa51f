package io.jdiffusion.tornado;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import io.jdiffusion.backend.HostRunner;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.core.Numerics;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.testdata.TinySd;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.util.List;
import java.util.Locale;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The tiny model's three networks (the graphs the pipeline runs) on the TornadoVM device equal
 * backend-cpu's results on the same random inputs: F32, relative L2 error at most 1e-4 per output.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TornadoTinyModelTest {
    private static final double TOLERANCE = 1e-4;

    private StableDiffusion model;
    private Backend tornado;
    private Backend cpu;

    @BeforeAll
    void start() {
        model = StableDiffusion.load(TinySd.modelDir(), null);
        tornado = Backends.create(TornadoBackendProvider.NAME);
        cpu = Backends.create("cpu");
    }

    @AfterAll
    void stop() {
        for (AutoCloseable c : new AutoCloseable[]{tornado, cpu, model}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }

    @Test
    void textEncoderMatchesCpu() {
        check(model.textEncoder().graph(2), model.textEncoder().config().vocabSize());
    }

    @Test
    void unetMatchesCpu() {
        check(model.unet().graph(2, 16, 16, 77), 1);
    }

    @Test
    void vaeDecoderMatchesCpu() {
        check(model.vae().decoderGraph(1, 16, 16), 1);
    }

    @Test
    void vaeEncoderMatchesCpu() {
        check(model.vae().encoderGraph(1, 64, 64), 1);
    }

    private void check(Graph graph, int vocab) {
        long seed = System.nanoTime();
        List<Tensor> inputs = NetworkInputs.random(graph, vocab, seed);
        try {
            List<Tensor> expected = HostRunner.run(cpu, graph, inputs);
            List<Tensor> actual = HostRunner.run(tornado, graph, inputs);
            for (int i = 0; i < expected.size(); i++) {
                double err = Numerics.relativeL2(actual.get(i), expected.get(i));
                System.out.printf(Locale.ROOT, "tiny %-8s output %d relL2 %.3e%n", graph.name(), i, err);
                assertThat(err).as("%s output %d (%s), input seed %d", graph.name(), i, graph.outputs().get(i), seed)
                        .isLessThanOrEqualTo(TOLERANCE);
            }
            expected.forEach(Tensor::close);
            actual.forEach(Tensor::close);
        } finally {
            inputs.forEach(Tensor::close);
        }
    }
}
