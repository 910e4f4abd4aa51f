package io.jdiffusion.models.pipeline;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.jdiffusion.core.testing.FuzzContract;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Init-image and mask decoding under the fuzzer, through {@link ImageFiles}, the code path of
 * {@code --init-image}: PNG, JPEG, BMP and GIF bytes decode to RGB (and a mask's luma) or are refused with
 * an {@link ImageFileException}; the pixel limit is checked from the header, so no input allocates more
 * than its pixels allow. Seeds: one small file per PNG colour type and bit depth, JPEG, BMP, GIF, and the
 * corruption classes, in src/test/resources/io/jdiffusion/models/pipeline/ImageFilesFuzzTestInputs/decode.
 */
class ImageFilesFuzzTest {
    /** Pixels allowed while fuzzing: small enough that a decompression bomb within the limit stays cheap. */
    private static final long MAX_PIXELS = 1L << 20;
    /** Heap per allowed pixel: decoder raster (16-bit RGBA: 8 bytes), the RGB bytes and the luma, with room. */
    private static final long BYTES_PER_PIXEL = 32;

    @FuzzTest(maxDuration = "10s")
    void decode(byte[] input) {
        FuzzContract.check(ImageFileException.class, input.length + MAX_PIXELS * BYTES_PER_PIXEL / FuzzContract.BYTES_PER_INPUT_BYTE, () -> {
            ImageFiles.Rgb rgb = ImageFiles.decode("image", input, MAX_PIXELS);
            assertThat((long) rgb.width() * rgb.height()).isBetween(1L, MAX_PIXELS);
            assertThat(rgb.pixels()).hasSize(rgb.width() * rgb.height() * 3);
            assertThat(rgb.luma()).hasSize(rgb.width() * rgb.height());
        });
    }
}
