package io.jdiffusion.tornado;

import io.jdiffusion.tornado.kernels.TensorCoreKernels;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Host-side: which tensor-core products are split along K, into how many parts, and that the parts cover K. */
class SplitKTest {
    private static final int H100_MULTIPROCESSORS = 132;
    private static final int K = TensorCoreKernels.BLOCK_K;

    @Test
    void fewTileDeepProductsAreSplitIntoOneWaveOfTwoWorkGroupsPerMultiprocessor() {
        // the UNet's 3x3 convolutions at the 8x8 level: 10 x 1 tiles, batch 2, K = 1280 x 9
        SplitK s = SplitK.choose(20, 11520, H100_MULTIPROCESSORS, 0);
        assertThat(s.splits()).isEqualTo(13);
        assertThat(s.chunk()).isEqualTo(28 * K);
        assertThat(20 * s.splits()).isLessThanOrEqualTo(2 * H100_MULTIPROCESSORS);
        // at the 16x16 level (40 tiles) and the 32x32 level (80 tiles, K = 640 x 9)
        assertThat(SplitK.choose(40, 11520, H100_MULTIPROCESSORS, 0).splits()).isEqualTo(6);
        assertThat(SplitK.choose(80, 5760, H100_MULTIPROCESSORS, 0).splits()).isEqualTo(3);
        // up to three quarters of the multiprocessors: 99 tiles, two parts fill the wave, a third would start another
        assertThat(SplitK.choose(99, 4608, H100_MULTIPROCESSORS, 0).splits()).isEqualTo(2);
    }

    @Test
    void productsWithATileForMostMultiprocessorsOrShallowKAreNotSplit() {
        assertThat(SplitK.choose(192, 2880, H100_MULTIPROCESSORS, 0)).isEqualTo(SplitK.none(2880)); // 64x64 level
        assertThat(SplitK.choose(132, 11520, H100_MULTIPROCESSORS, 0).split()).isFalse();
        // the VAE's 512-channel convolutions at 64x64: 4 x 32 tiles, nearly one per multiprocessor (split, slower on an H100)
        assertThat(SplitK.choose(128, 4608, H100_MULTIPROCESSORS, 0).split()).isFalse();
        assertThat(SplitK.choose(100, 4608, H100_MULTIPROCESSORS, 0).split()).isFalse();
        // 12 tiles, K = 320: 10 steps, one part of at least 8
        assertThat(SplitK.choose(12, 320, H100_MULTIPROCESSORS, 0).split()).isFalse();
        // the text encoder's 154 x 768 products: 24 steps, three parts of 8
        assertThat(SplitK.choose(12, 768, H100_MULTIPROCESSORS, 0)).isEqualTo(new SplitK(3, 8 * K));
        assertThat(SplitK.choose(1, 1 << 20, H100_MULTIPROCESSORS, 0).splits()).isEqualTo(SplitK.MAX_CHOSEN_SPLITS);
    }

    @Test
    void aSettingOfOneNeverSplitsAndAnotherForcesThatManyPartsWhereKAllows() {
        assertThat(SplitK.choose(1, 11520, H100_MULTIPROCESSORS, 1).split()).isFalse();
        assertThat(SplitK.choose(500, 96, H100_MULTIPROCESSORS, 3)).isEqualTo(new SplitK(3, K));
        // four steps into three parts: parts of two steps, so two parts
        assertThat(SplitK.choose(2, 4 * K, H100_MULTIPROCESSORS, 3)).isEqualTo(new SplitK(2, 2 * K));
        assertThat(SplitK.choose(2, K, H100_MULTIPROCESSORS, 3).split()).isFalse();
    }

    @Test
    void thePartsCoverKExactlyWithNoEmptyPart() {
        SplittableRandom r = new SplittableRandom(17);
        for (int i = 0; i < 10_000; i++) {
            int tiles = 1 + r.nextInt(400);
            int kPadded = K * (1 + r.nextInt(500));
            int setting = r.nextBoolean() ? 0 : 1 + r.nextInt(TornadoSettings.MAX_SPLIT_K);
            SplitK s = SplitK.choose(tiles, kPadded, 1 + r.nextInt(200), setting);
            assertThat(s.chunk() % K).isZero();
            assertThat((long) s.splits() * s.chunk()).as("%d tiles, K %d, setting %d", tiles, kPadded, setting).isGreaterThanOrEqualTo(kPadded);
            assertThat((long) (s.splits() - 1) * s.chunk()).as("the last part is not empty").isLessThan(kPadded);
            assertThat(s.splits()).isBetween(1, Math.max(SplitK.MAX_CHOSEN_SPLITS, setting));
        }
    }

    @Test
    void badSizesAreRefusedByName() {
        assertThatThrownBy(() -> SplitK.choose(0, 64, 132, 0)).hasMessageContaining("0 tiles");
        assertThatThrownBy(() -> SplitK.choose(4, 40, 132, 0)).hasMessageContaining("K 40");
    }
}
