package io.jdiffusion.tornado;

import io.jdiffusion.models.unet.UNetCall;
import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import io.jdiffusion.backend.HostRunner;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.core.Numerics;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.models.pipeline.GenerationRequest;
import io.jdiffusion.models.pipeline.GenerationResult;
import io.jdiffusion.models.pipeline.ProgressListener;
import io.jdiffusion.models.pipeline.StableDiffusionPipeline;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.testdata.TinySd;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.util.List;
import java.util.Locale;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The tiny model on the TornadoVM device equals backend-cpu, F32, relative L2 error at most 1e-4: a whole
 * txt2img generation (text encoder, guided UNet steps, VAE decoder, as `./jdiffusion generate --backend
 * tornado` runs them), and the text encoder and VAE encoder graphs on their own on random inputs. Each
 * network compiles to hundreds of kernels, which PoCL builds slowly, so the UNet and VAE decoder are checked
 * through the pipeline only.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TornadoTinyModelTest {
    private static final double TOLERANCE = 1e-4;
    /**
     * F16 tensor-core products against F32 on the CPU, through a whole network: each product rounds its
     * operands to F16 (relative error 2^-11), which stacked layers carry along.
     */
    private static final double F16_TOLERANCE = 1e-2;

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
    void txt2imgPipelineMatchesCpu() {
        GenerationRequest request = GenerationRequest.builder().prompt("a photograph of an astronaut riding a horse")
                .seed(42).sampler("euler").steps(3).size(32, 32).build();
        try (StableDiffusionPipeline onCpu = new StableDiffusionPipeline(model, cpu, Precision.F32);
             StableDiffusionPipeline onTornado = new StableDiffusionPipeline(model, tornado, Precision.F32);
             GenerationResult expected = onCpu.generate(request, ProgressListener.NONE);
             GenerationResult actual = onTornado.generate(request, ProgressListener.NONE)) {
            double latents = Numerics.relativeL2(actual.latents(), expected.latents());
            double image = Numerics.relativeL2(actual.image(), expected.image());
            System.out.printf(Locale.ROOT, "tiny pipeline latents relL2 %.3e image relL2 %.3e%n", latents, image);
            assertThat(latents).as("final latents").isLessThanOrEqualTo(TOLERANCE);
            assertThat(image).as("decoded image").isLessThanOrEqualTo(TOLERANCE);
        }
    }

    @Test
    void vaeEncoderMatchesCpu() {
        check(model.vae().encoderGraph(1, 64, 64), 1);
    }

    /** Text encoder, UNet and VAE decoder in F16 on a device with tensor cores (skipped on PoCL). */
    @Test
    void networksInF16StayCloseToCpu() {
        assumeTrue(TornadoDevices.computesHalf(((TornadoBackend) tornado).device()), "no F16 on this TornadoVM device");
        int vocab = model.textEncoder().config().vocabSize();
        check(model.textEncoder().graph(2), vocab, Precision.F16, F16_TOLERANCE);
        check(model.unet().graph(new UNetCall(2, 8, 8, 77)), vocab, Precision.F16, F16_TOLERANCE);
        check(model.vae().decoderGraph(1, 8, 8), vocab, Precision.F16, F16_TOLERANCE);
    }

    private void check(Graph graph, int vocab) {
        check(graph, vocab, Precision.F32, TOLERANCE);
    }

    private void check(Graph graph, int vocab, Precision precision, double tolerance) {
        long seed = System.nanoTime();
        List<Tensor> inputs = NetworkInputs.random(graph, vocab, seed);
        try {
            List<Tensor> expected = HostRunner.run(cpu, graph, inputs);
            List<Tensor> actual = HostRunner.run(tornado, graph, inputs, precision);
            for (int i = 0; i < expected.size(); i++) {
                double err = Numerics.relativeL2(actual.get(i), expected.get(i));
                System.out.printf(Locale.ROOT, "tiny %-8s %s output %d relL2 %.3e%n", graph.name(), precision, i, err);
                assertThat(err).as("%s %s output %d (%s), input seed %d", graph.name(), precision, i, graph.outputs().get(i), seed)
                        .isLessThanOrEqualTo(tolerance);
            }
            expected.forEach(Tensor::close);
            actual.forEach(Tensor::close);
        } finally {
            inputs.forEach(Tensor::close);
        }
    }
}
