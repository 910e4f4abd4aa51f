package io.jdiffusion.models.unet;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Executable;
import io.jdiffusion.models.testsupport.TinyModelFixture;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The tiny UNet compiled for several latent sizes in one process (as a server does): the CPU backend holds
 * its packed weights once, whatever the number of shapes; a larger size adds only its arena, scratch and
 * the tap-major weights of the layers that become large enough for Winograd (their filters are transformed
 * as they run where a memory policy leaves nothing for derived weights). Where filters are kept, a second shape
 * whose layers take the same Winograd tiles shares them too.
 */
class UNetSharedWeightsTest {
    @Test
    void shapesOfOneModelShareItsPackedWeights() {
        try (TinyModelFixture fixture = TinyModelFixture.open("unet.safetensors")) {
            Backend cpu = fixture.cpu;
            // As under a memory policy with no room for derived weights: the packed weights alone are compared.
            cpu.limitDerivedWeightBytes(0);
            UNet2DConditionModel unet = fixture.model.unet();
            long stored = unet.graph(new UNetCall(2, 8, 8, 77)).constants().stream().mapToLong(v -> v.constant().byteSize()).sum();

            Executable small = cpu.compile(unet.graph(new UNetCall(2, 8, 8, 77)));
            Map<String, Long> one = cpu.memoryBreakdown();
            // F32 weights stay F32; GEMM panels pad the output channels to whole panels, so a little more than stored.
            assertThat(one.get("weights")).isBetween(stored, stored * 5 / 4);
            assertThat(one.get("weights_winograd")).isZero();

            Executable medium = cpu.compile(unet.graph(new UNetCall(2, 12, 12, 77)));
            Map<String, Long> two = cpu.memoryBreakdown();
            assertThat(two.get("weights")).as("a second shape packs no weight again").isEqualTo(one.get("weights"));
            assertThat(two.get("arenas")).isGreaterThan(one.get("arenas"));

            Executable large = cpu.compile(unet.graph(new UNetCall(1, 32, 32, 77)));
            Map<String, Long> three = cpu.memoryBreakdown();
            assertThat(three.get("weights_winograd")).as("no filters are kept under the limit: layers transform them as they run").isZero();
            long tapMajor = three.get("weights") - one.get("weights");
            assertThat(tapMajor).as("32x32 latents take Winograd on the full-resolution layers, from tap-major copies of their weights")
                    .isPositive();

            small.close();
            assertThat(cpu.memoryBreakdown().get("weights")).as("the medium shape still uses them").isEqualTo(three.get("weights"));
            medium.close();
            Map<String, Long> onlyLarge = cpu.memoryBreakdown();
            assertThat(onlyLarge.get("weights")).as("the im2col panels of the layers that run Winograd at 32x32 go")
                    .isLessThan(three.get("weights")).isGreaterThan(tapMajor);
            large.close();
            assertThat(cpu.memoryBreakdown().get("weights")).isZero();
            assertThat(cpu.deviceBytesInUse()).isZero();
        }
    }

    @Test
    void shapesWhoseLayersTakeTheSameTilesShareTheirKeptFilters() {
        try (TinyModelFixture fixture = TinyModelFixture.open("unet.safetensors")) {
            Backend cpu = fixture.cpu;
            UNet2DConditionModel unet = fixture.model.unet();
            // 8x8 and 12x12 latents: the full-resolution layers run Winograd F(2x2) at both (16 and 36 tiles an image).
            try (Executable small = cpu.compile(unet.graph(new UNetCall(2, 8, 8, 77)))) {
                Map<String, Long> one = cpu.memoryBreakdown();
                assertThat(one.get("weights_winograd")).as("filters are kept when nothing limits them").isPositive();
                try (Executable medium = cpu.compile(unet.graph(new UNetCall(2, 12, 12, 77)))) {
                    Map<String, Long> two = cpu.memoryBreakdown();
                    assertThat(two.get("weights_winograd")).isEqualTo(one.get("weights_winograd"));
                    assertThat(two.get("weights")).as("a second shape packs no weight again").isEqualTo(one.get("weights"));
                }
            }
        }
    }
}
