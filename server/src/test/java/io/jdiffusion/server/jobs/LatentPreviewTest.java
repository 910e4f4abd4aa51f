package io.jdiffusion.server.jobs;

import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** The cheap preview against the same linear map computed in double, pixel by pixel. */
class LatentPreviewTest {
    private static final double[][] SD = {
            {0.298, 0.207, 0.208}, {0.187, 0.286, 0.173}, {-0.158, 0.189, 0.264}, {-0.184, -0.271, -0.473}};

    @Test
    void eachPixelIsTheFactorMapOfItsLatentsScaledByTheirRms() {
        int h = 5;
        int w = 7;
        float[] latents = new float[4 * h * w];
        Random random = new Random(11);
        for (int i = 0; i < latents.length; i++) {
            latents[i] = (float) (random.nextGaussian() * 3);
        }
        double sum = 0;
        for (float v : latents) {
            sum += v * (double) v;
        }
        double scale = 1 / Math.sqrt(sum / latents.length);
        BufferedImage image = LatentPreview.SD.of(latents, 4, h, w);
        assertThat(image.getWidth()).isEqualTo(w);
        assertThat(image.getHeight()).isEqualTo(h);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int rgb = image.getRGB(x, y);
                for (int c = 0; c < 3; c++) {
                    double v = 0;
                    for (int k = 0; k < 4; k++) {
                        v += latents[k * h * w + y * w + x] * scale * SD[k][c];
                    }
                    long expected = Math.round(Math.min(1, Math.max(0, (v + 1) / 2)) * 255);
                    int actual = (rgb >> (16 - 8 * c)) & 0xFF;
                    assertThat((long) actual).as("pixel %d,%d channel %d", x, y, c).isCloseTo(expected, org.assertj.core.data.Offset.offset(1L));
                }
            }
        }
    }

    @Test
    void otherChannelCountsHaveNoPreview() {
        assertThat(LatentPreview.SDXL.of(new float[16 * 4], 16, 2, 2)).isNull();
    }
}
