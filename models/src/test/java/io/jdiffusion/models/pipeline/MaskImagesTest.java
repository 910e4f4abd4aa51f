package io.jdiffusion.models.pipeline;

import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Reading masks as PIL's convert("L") does, and the mask blur. */
class MaskImagesTest {

    @Test
    void colourMasksUsePilLumaAndGreyMasksTheirSamples() {
        BufferedImage rgb = new BufferedImage(2, 1, BufferedImage.TYPE_INT_RGB);
        rgb.setRGB(0, 0, 0xFF0000);
        rgb.setRGB(1, 0, 0x20C040);
        try (Tensor t = BufferedImages.maskFromBufferedImage(rgb, 2, 1)) {
            // PIL: (19595 R + 38470 G + 7471 B + 32768) >> 16
            assertThat(t.getFloat(0)).isEqualTo(((19595 * 255 + 32768) >> 16) / 255f);
            assertThat(t.getFloat(1)).isEqualTo(((19595 * 0x20 + 38470 * 0xC0 + 7471 * 0x40 + 32768) >> 16) / 255f);
        }
        BufferedImage grey = new BufferedImage(2, 1, BufferedImage.TYPE_BYTE_GRAY);
        grey.getRaster().setSample(0, 0, 0, 127);
        grey.getRaster().setSample(1, 0, 0, 128);
        try (Tensor t = BufferedImages.maskFromBufferedImage(grey, 2, 1)) {
            assertThat(t.toFloatArray()).containsExactly(127 / 255f, 128 / 255f);
        }
        try (Tensor t = BufferedImages.maskFromBufferedImage(grey, 4, 2)) {
            assertThat(t.shape()).isEqualTo(Shape.of(1, 1, 2, 4));
            assertThat(t.getFloat(0)).isEqualTo(127 / 255f);
            assertThat(t.getFloat(3)).isEqualTo(128 / 255f);
        }
    }

    @Test
    void blurKeepsConstantsAndMassAndSpreadsAsAGaussian() {
        int n = 41;
        try (Tensor delta = Tensor.allocate(Shape.of(1, 1, n, n), DType.F32);
             Tensor flat = Tensor.allocate(Shape.of(1, 1, n, n), DType.F32)) {
            delta.setFloat(20L * n + 20, 1f);
            for (long i = 0; i < flat.elementCount(); i++) {
                flat.setFloat(i, 0.7f);
            }
            Images.gaussianBlur(delta, 3);
            Images.gaussianBlur(flat, 3);
            double sum = 0;
            for (float v : delta.toFloatArray()) {
                sum += v;
            }
            assertThat(sum).isCloseTo(1, within(1e-5));
            for (float v : flat.toFloatArray()) {
                assertThat(v).isCloseTo(0.7f, within(1e-6f));
            }
            // the 2D Gaussian of sigma 3, truncated at 3 sigma: exp(-d^2 / 18) relative to the centre
            double centre = delta.getFloat(20L * n + 20);
            assertThat(delta.getFloat(20L * n + 23) / centre).isCloseTo(Math.exp(-9 / 18.0), within(1e-5));
            assertThat(delta.getFloat(23L * n + 23) / centre).isCloseTo(Math.exp(-18 / 18.0), within(1e-5));
            assertThat(delta.getFloat(20L * n + 30)).isZero();
        }
    }
}
