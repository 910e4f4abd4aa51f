package io.jdiffusion.models.vae;

import io.jdiffusion.backend.HostRunner;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.testsupport.Golden;
import io.jdiffusion.models.testsupport.TinyModelFixture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The tiny VAE against diffusers' AutoencoderKL (golden cases vae_decode, vae_encode), block by block. */
class AutoencoderKLGoldenTest {
    private static TinyModelFixture fixture;

    @BeforeAll
    static void load() {
        fixture = TinyModelFixture.open("vae.safetensors");
    }

    @AfterAll
    static void close() {
        fixture.close();
    }

    @Test
    void decodeMatchesDiffusers() {
        AutoencoderKL vae = fixture.model.vae();
        assertThat(vae.scalingFactor()).isEqualTo(0.18215f);
        assertThat(vae.downscaleFactor()).isEqualTo(2);
        assertThat(vae.latentChannels()).isEqualTo(4);
        List<String> taps = vae.decoderTapNames();
        Graph g = vae.decoderGraph(1, 16, 16, taps);
        List<Tensor> out = HostRunner.run(fixture.cpu, g, List.of(fixture.golden.tensor("dec.z")));
        Golden.check("vae_decode sample", out.getFirst(), fixture.golden.tensor("dec.sample"));
        for (int i = 0; i < taps.size(); i++) {
            Golden.check("vae_decode after." + taps.get(i), out.get(1 + i), fixture.golden.tensor("dec.after." + taps.get(i)));
        }
        out.forEach(Tensor::close);
    }

    @Test
    void encodeMatchesDiffusers() {
        AutoencoderKL vae = fixture.model.vae();
        List<String> taps = vae.encoderTapNames();
        Graph g = vae.encoderGraph(1, 32, 32, taps);
        List<Tensor> out = HostRunner.run(fixture.cpu, g, List.of(fixture.golden.tensor("enc.image")));
        Golden.check("vae_encode mean", out.get(0), fixture.golden.tensor("enc.mean"));
        try (DiagonalGaussian dist = new DiagonalGaussian(out.get(0), out.get(1)); Tensor std = dist.std()) {
            Golden.check("vae_encode logvar", dist.logvar(), fixture.golden.tensor("enc.logvar"));
            Golden.check("vae_encode std", std, fixture.golden.tensor("enc.std"));
        }
        for (int i = 0; i < taps.size(); i++) {
            Golden.check("vae_encode after." + taps.get(i), out.get(2 + i), fixture.golden.tensor("enc.after." + taps.get(i)));
        }
        out.forEach(Tensor::close);
    }

    @Test
    void latentDistributionClampsAndSamples() {
        try (Tensor mean = Tensor.ofFloats(io.jdiffusion.core.Shape.of(3), 1f, 2f, 3f);
             Tensor logvar = Tensor.ofFloats(io.jdiffusion.core.Shape.of(3), -40f, 0f, 30f);
             Tensor noise = Tensor.ofFloats(io.jdiffusion.core.Shape.of(3), 1f, -1f, 0f);
             DiagonalGaussian d = new DiagonalGaussian(mean, logvar);
             Tensor sample = d.sample(noise)) {
            assertThat(d.logvar().toFloatArray()).containsExactly(-30f, 0f, 20f);
            assertThat(sample.toFloatArray()).containsExactly(1f + (float) Math.exp(-15), 1f, 3f);
        }
    }

    @Test
    void encoderRefusesSizesTheLatentGridCannotHold() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> fixture.model.vae().encoderGraph(1, 31, 32))
                .hasMessageContaining("multiple of 2");
    }
}
