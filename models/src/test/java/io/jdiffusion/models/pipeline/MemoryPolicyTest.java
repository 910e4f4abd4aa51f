package io.jdiffusion.models.pipeline;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.testdata.TinySd;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The memory policy: chosen from a budget (warm when all weights fit beside the reserve, staged otherwise), and
 * under the staged policy each network is freed when its stage ends and packed again, to the same image, for
 * the next one.
 */
class MemoryPolicyTest {
    private static StableDiffusion model;

    @BeforeAll
    static void load() {
        model = StableDiffusion.load(TinySd.modelDir(), null);
    }

    @AfterAll
    static void close() {
        model.close();
    }

    private static long weightBytes() {
        return MemoryPolicy.forBudget(model, Long.MAX_VALUE / 4).weightBytes();
    }

    @Test
    void aBudgetThatHoldsTwiceTheWeightsKeepsEveryNetworkWarmAndSharesTheRestForDerivedWeights() {
        long weights = weightBytes();
        assertThat(weights).isEqualTo(model.unet().parameters().stream().mapToLong(p -> p.tensor().byteSize()).sum()
                + model.vae().parameters().stream().mapToLong(p -> p.tensor().byteSize()).sum()
                + model.textEncoder().parameters().stream().mapToLong(p -> p.tensor().byteSize()).sum());
        long spare = 10L << 20;
        MemoryPolicy warm = MemoryPolicy.forBudget(model, weights + MemoryPolicy.RESERVE + spare);
        assertThat(warm.staged()).isFalse();
        assertThat(warm.derivedWeightBytes()).as("the spare bytes, split between UNet and VAE").isEqualTo(spare / 2);
        assertThat(MemoryPolicy.forBudget(model, 2 * weights).staged()).isFalse();
        assertThat(MemoryPolicy.forBudget(model, 2 * weights).derivedWeightBytes()).as("nothing left").isZero();
        assertThat(warm.describe()).startsWith("warm (budget");
    }

    @Test
    void aBudgetBelowAllWeightsStagesTheNetworksAndGivesDerivedWeightsWhatTheLargestLeaves() {
        long unet = model.unet().parameters().stream().mapToLong(p -> p.tensor().byteSize()).sum();
        MemoryPolicy staged = MemoryPolicy.forBudget(model, 2 * weightBytes() - 1);
        assertThat(staged.staged()).isTrue();
        assertThat(staged.derivedWeightBytes()).as("the largest network and the reserve take it all").isZero();
        // a whole-size model: the budget left beside the UNet and the reserve goes to derived weights
        long budget = unet + MemoryPolicy.RESERVE + (5L << 20);
        MemoryPolicy roomy = new MemoryPolicy(true, budget, unet, Math.max(0, budget - unet - MemoryPolicy.RESERVE));
        assertThat(roomy.describe()).contains("derived weights <= 5 MiB per network");
        assertThat(staged.describe()).startsWith("staged");
        assertThatThrownBy(() -> MemoryPolicy.forBudget(model, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("memory budget must be positive");
    }

    @Test
    void networksAreFoundByTheirKeysWhateverTheLoraSetOrShape() {
        assertThat(Network.TEXT_ENCODERS.owns("text_encoder/77")).isTrue();
        assertThat(Network.TEXT_ENCODERS.owns("lora-1a2b/text_encoder_2/penultimate+pooled/77")).isTrue();
        assertThat(Network.UNET.owns("lora-1a2b/unet/2x8x8x77")).isTrue();
        assertThat(Network.UNET.owns("vae_decoder/8x8@f32")).isFalse();
        assertThat(Network.VAE_DECODER.owns("vae_decoder/8x8@f32")).isTrue();
        assertThat(Network.VAE_ENCODER.owns("vae_decoder/8x8")).isFalse();
    }

    /** Records the backend's packed weights when the denoising loop starts, after the conditioning. */
    private static final class WeightsAtLoopStart implements ProgressListener {
        private final Backend backend;
        final List<Long> weights = new ArrayList<>();

        WeightsAtLoopStart(Backend backend) {
            this.backend = backend;
        }

        @Override
        public void started(int totalCalls, int steps) {
            weights.add(backend.memoryBreakdown().get("weights"));
        }
    }

    @Test
    void theStagedPolicyFreesEachNetworkAfterItsStageAndPacksItAgainForTheSameImage() {
        GenerationRequest request = GenerationRequest.builder().prompt("a red cube").seed(7).sampler("euler").steps(2)
                .size(16, 16).build();
        float[] warmImage;
        long warmWeightsAtLoop;
        // no Winograd filters in either, so that both pipelines compile the same kernels
        try (Backend backend = Backends.create("cpu");
             StableDiffusionPipeline warm = new StableDiffusionPipeline(model, backend, Precision.F32,
                     new MemoryPolicy(false, Long.MAX_VALUE, 0, 0))) {
            WeightsAtLoopStart probe = new WeightsAtLoopStart(backend);
            try (GenerationResult r = warm.generate(request, probe)) {
                warmImage = r.image().toFloatArray();
            }
            warmWeightsAtLoop = probe.weights.getFirst();
            assertThat(backend.memoryBreakdown().get("weights")).as("warm: every network stays packed").isPositive();
        }
        assertThat(warmWeightsAtLoop).as("warm: the text encoder is still packed when the loop starts").isPositive();

        try (Backend backend = Backends.create("cpu");
             StableDiffusionPipeline staged = new StableDiffusionPipeline(model, backend, Precision.F32,
                     MemoryPolicy.forBudget(model, 1 << 20))) {
            assertThat(staged.memoryPolicy().staged()).isTrue();
            WeightsAtLoopStart probe = new WeightsAtLoopStart(backend);
            for (int image = 0; image < 2; image++) {
                try (GenerationResult r = staged.generate(request, probe)) {
                    assertThat(r.image().toFloatArray()).as("image %d, packed afresh", image).isEqualTo(warmImage);
                }
                assertThat(probe.weights.get(image)).as("text encoder freed after the conditioning, UNet not packed yet")
                        .isZero();
                assertThat(backend.memoryBreakdown()).as("every network freed after its stage")
                        .containsEntry("weights", 0L).containsEntry("arenas", 0L);
            }
            assertThat(backend.peakDeviceBytes()).as("the packings existed while their stages ran").isPositive();
        }
    }
}
