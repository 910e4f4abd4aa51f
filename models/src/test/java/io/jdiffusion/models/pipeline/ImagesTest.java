package io.jdiffusion.models.pipeline;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The VAE output's postprocessing: x / 2 + 0.5, clamped to [0, 1]. */
class ImagesTest {
    @Test
    void vaeOutputMapsToTheUnitRangeAndClamps() {
        float[] pixels = {-3f, -1f, 0f, 0.5f, 1f, 3f, Float.NaN};
        Images.toUnitRange(pixels);
        assertThat(pixels).containsExactly(0f, 0f, 0.5f, 0.75f, 1f, 1f, Float.NaN);
    }
}
