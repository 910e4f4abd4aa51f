package io.jdiffusion.cpu;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Which attention shapes take the keys-across-lanes path. Its results are checked against the float64
 * reference by the conformance suite (the "short-key" cases), at every vector width the build runs.
 */
class ShortKeyAttentionTest {
    @Test
    void takesUpTo1024KeysWhenPaddingWastesLittle() {
        assertThat(ShortKeyAttention.fits(160, 64, 64)).isTrue();
        assertThat(ShortKeyAttention.fits(1024, 64, 64)).isTrue();
        assertThat(ShortKeyAttention.fits(1025, 64, 64)).as("more keys than a panel's scores keep in L1").isFalse();
        assertThat(ShortKeyAttention.fits(4096, 40, 40)).isFalse();
        assertThat(ShortKeyAttention.fits(1, 64, 64)).as("one key: padded to a whole vector").isFalse();
        assertThat(ShortKeyAttention.fits(29, 7, 5)).as("heads of 7 and 5: mostly padding").isFalse();
    }

    @Test
    void takesTheTextEncodersAndSdsShapesUpTo1024TokensAt256Bits() {
        org.junit.jupiter.api.Assumptions.assumeTrue(CpuVectors.L == 8, "256-bit vectors");
        assertThat(ShortKeyAttention.fits(77, 64, 64)).isTrue();
        assertThat(ShortKeyAttention.fits(77, 40, 40)).isTrue();
        assertThat(ShortKeyAttention.fits(77, 80, 80)).isTrue();
        assertThat(ShortKeyAttention.fits(256, 160, 160)).isTrue();
        assertThat(ShortKeyAttention.fits(1024, 80, 80)).isTrue();
        assertThat(ShortKeyAttention.fits(80, 40, 40)).isTrue();
        assertThat(ShortKeyAttention.fits(81, 40, 40)).as("heads of 40 are five vectors: only the keys are padded").isTrue();
        assertThat(ShortKeyAttention.fits(7, 40, 40)).as("7 keys padded to 8").isTrue();
    }

    @Test
    void takesSd15sCrossAttentionAt512Bits() {
        org.junit.jupiter.api.Assumptions.assumeTrue(CpuVectors.L == 16, "512-bit vectors");
        assertThat(ShortKeyAttention.fits(77, 40, 40)).as("77 keys padded to 80, heads of 40 to 48: 87.5% useful").isTrue();
        assertThat(ShortKeyAttention.fits(77, 64, 64)).isTrue();
        assertThat(ShortKeyAttention.fits(77, 160, 160)).isTrue();
        assertThat(ShortKeyAttention.fits(16, 160, 160)).as("the 4x4 level at 256x256: one vector of keys").isTrue();
        assertThat(ShortKeyAttention.fits(3, 64, 64)).as("3 keys padded to 16").isFalse();
    }
}
