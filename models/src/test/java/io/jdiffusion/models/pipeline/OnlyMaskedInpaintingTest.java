package io.jdiffusion.models.pipeline;

import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jdiffusion.core.safetensors.SafetensorsFile;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.models.testsupport.Golden;
import io.jdiffusion.models.testsupport.PipelineFixture;
import io.jdiffusion.testdata.TinySd;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * "Inpaint area: Only masked" (A1111's inpaint_full_res): the crop region against A1111's rules, the Lanczos
 * resizes against PIL, and whole runs on the tiny 9-channel inpainting model (test-data tiny-sd-inpaint).
 */
class OnlyMaskedInpaintingTest {
    private static PipelineFixture fixture;
    private static StableDiffusion model;
    private static StableDiffusionPipeline pipeline;

    @BeforeAll
    static void load() {
        fixture = PipelineFixture.open(TinySd.set("tiny-sd-inpaint").resolve("model"));
        model = fixture.model();
        pipeline = fixture.pipeline();
    }

    @AfterAll
    static void close() {
        fixture.close();
    }

    /** A [1, 1, h, w] mask, 1 over [x1, x2) x [y1, y2). */
    private static Tensor boxMask(int w, int h, int x1, int y1, int x2, int y2) {
        Tensor t = Tensor.allocate(Shape.of(1, 1, h, w), io.jdiffusion.core.DType.F32);
        for (int y = y1; y < y2; y++) {
            for (int x = x1; x < x2; x++) {
                t.setFloat((long) y * w + x, 1f);
            }
        }
        return t;
    }

    private static CropRegion region(int w, int h, int x1, int y1, int x2, int y2, int pad, int processingW, int processingH) {
        try (Tensor mask = boxMask(w, h, x1, y1, x2, y2)) {
            return CropRegion.around(mask, pad).expandedTo(processingW, processingH, w, h);
        }
    }

    /**
     * Hand cases, each also what diffusers' VaeImageProcessor.get_crop_region (a copy of A1111's
     * get_crop_region + expand_crop_region) returns for the same mask.
     */
    @Test
    void cropRegionFollowsA1111sRules() {
        // A1111's docstring: a 128x32 mask for 512x512 processing grows to 128x128, centred
        assertThat(region(512, 512, 200, 240, 328, 272, 0, 512, 512)).isEqualTo(new CropRegion(200, 192, 328, 320));
        // padding clipped at the corner; the 2:1 width cannot fit in the 100 px image, so it stops at the edge
        assertThat(region(100, 80, 0, 0, 10, 40, 32, 64, 32)).isEqualTo(new CropRegion(0, 0, 100, 72));
        // grown past the right edge, then shifted back inside
        assertThat(region(64, 64, 60, 30, 61, 31, 4, 32, 16)).isEqualTo(new CropRegion(46, 26, 64, 35));
        // int(16.67 - 3) = 13 extra columns: 6 on the left, 7 on the right
        assertThat(region(50, 50, 10, 10, 13, 20, 0, 40, 24)).isEqualTo(new CropRegion(4, 10, 20, 20));
        // wider than the processing ratio: grows in height past the top, shifted down, clipped to the image
        assertThat(region(64, 64, 0, 20, 64, 24, 0, 32, 32)).isEqualTo(new CropRegion(0, 0, 64, 64));
        assertThat(region(64, 48, 30, 20, 34, 22, 3, 24, 40)).isEqualTo(new CropRegion(27, 13, 37, 29));
    }

    @Test
    void aMaskPixelCountsWhenItIsNonZeroInEightBits() {
        try (Tensor mask = boxMask(16, 16, 0, 0, 0, 0)) {
            mask.setFloat(5 * 16 + 3, 0.001f); // 0.26 of an 8-bit step: PIL's mask holds 0 there
            mask.setFloat(9 * 16 + 12, 0.003f); // 0.77: rounds to 1
            assertThat(CropRegion.around(mask, 0)).isEqualTo(new CropRegion(12, 9, 13, 10));
        }
    }

    @Test
    void aMaskWithNoWhitePixelIsAClearError() {
        try (Tensor mask = boxMask(16, 16, 0, 0, 0, 0)) {
            assertThatThrownBy(() -> CropRegion.around(mask, 32)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("the mask has no white pixels");
        }
    }

    /** PIL's Image.resize(LANCZOS) on an 'F' image (no 8-bit rounding), values from PIL 9.4. */
    @Test
    void lanczosMatchesPil() {
        float[] src = new float[20];
        for (int y = 0; y < 4; y++) {
            for (int x = 0; x < 5; x++) {
                src[y * 5 + x] = ((x * 7 + y * 3) % 10) / 10f * 0.6f + 0.2f;
            }
        }
        try (Tensor image = Tensor.ofFloats(Shape.of(1, 1, 4, 5), src)) {
            expect(A1111Resize.lanczos(image, 3, 2), 0.338251, 0.4565641, 0.430387, 0.5527284, 0.3470666, 0.4621307);
            expect(A1111Resize.lanczos(image, 7, 6),
                    0.1440649, 0.46452, 0.6844965, 0.4114484, 0.1985096, 0.4596812, 0.7660491,
                    0.2586334, 0.3243673, 0.4970295, 0.5670416, 0.3642339, 0.3590993, 0.4964491,
                    0.4447104, 0.2389385, 0.2416392, 0.5774068, 0.5916835, 0.3557923, 0.2100854,
                    0.5398278, 0.4339095, 0.2374771, 0.2425932, 0.5815363, 0.5687919, 0.3469073,
                    0.6801074, 0.6150385, 0.4079765, 0.2529584, 0.3243044, 0.5017982, 0.5756289,
                    0.7617868, 0.666313, 0.5263604, 0.4085516, 0.1419569, 0.35548, 0.6759351);
            // a zero-height box at the top edge: what "resize and fill" stretches into its bands
            expect(A1111Resize.lanczos(image, 0, 0, 5, 0, 5, 3),
                    0.1686957, 0.7223913, 0.3793478, 0.2286956, 0.7823913,
                    0.1686957, 0.7223913, 0.3793478, 0.2286956, 0.7823913,
                    0.1686957, 0.7223913, 0.3793478, 0.2286956, 0.7823913);
            expect(A1111Resize.lanczos(image, 5, 0, 5, 4, 2, 4),
                    0.7823913, 0.7823913, 0.2286956, 0.2286956, 0.3793478, 0.3793478, 0.7223913, 0.7223913);
            try (Tensor same = A1111Resize.lanczos(image, 5, 4)) {
                assertThat(same.toFloatArray()).containsExactly(src);
            }
        }
    }

    private static void expect(Tensor actual, double... expected) {
        try (actual) {
            float[] a = actual.toFloatArray();
            assertThat(a).hasSize(expected.length);
            for (int i = 0; i < a.length; i++) {
                assertThat((double) a[i]).as("pixel " + i).isCloseTo(expected[i], within(2e-6));
            }
        }
    }

    /** Resize and fill keeps the ratio and fills the bands; crop and resize covers and cuts, both centred. */
    @Test
    void resizeModesKeepTheAspectRatio() {
        try (Tensor wide = Tensor.ofFloats(Shape.of(1, 1, 2, 8), 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f,
                0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f);
             Tensor filled = A1111Resize.resizeAndFill(wide, 8, 8);
             Tensor cropped = A1111Resize.cropAndResize(wide, 8, 8)) {
            // 8x2 fits 8x8 as 8x2 at rows 3-4; the bands of 3 rows above and below are stretched from its edges,
            // and row 7 (8 / 2 - 2 / 2 = 3, so 3 + 2 + 3 = 8) is covered too
            for (float v : filled.toFloatArray()) {
                assertThat(v).isCloseTo(0.5f, within(1e-6f));
            }
            for (float v : cropped.toFloatArray()) {
                assertThat(v).isCloseTo(0.5f, within(1e-6f));
            }
        }
    }

    /** A 48x40 image, a mask near its corner, processed at 32x32: only the crop region may change. */
    @Test
    void pixelsOutsideTheCropRegionAreExactlyTheInputs() {
        int w = 48;
        int h = 40;
        SplittableRandom random = new SplittableRandom(5);
        float[] pixels = new float[3 * w * h];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = Math.round(random.nextDouble() * 255) / 255f;
        }
        try (Tensor image = Tensor.ofFloats(Shape.of(1, 3, h, w), pixels);
             Tensor mask = boxMask(w, h, 34, 4, 42, 12)) {
            GenerationRequest request = GenerationRequest.builder().prompt("a red door").seed(3).sampler("ddim").steps(2)
                    .size(32, 32).initImage(image, 1f).mask(mask)
                    .inpaintArea(GenerationRequest.InpaintArea.onlyMasked(4)).build();
            CropRegion region = CropRegion.around(mask, 4).expandedTo(32, 32, w, h);
            assertThat(region).isEqualTo(new CropRegion(30, 0, 46, 16));
            try (GenerationResult result = pipeline.generate(request, ProgressListener.NONE)) {
                assertThat(result.image().shape()).isEqualTo(Shape.of(1, 3, h, w));
                assertThat(result.latentWidth()).isEqualTo(16);
                float[] out = result.image().toFloatArray();
                int changed = 0;
                for (int c = 0; c < 3; c++) {
                    for (int y = 0; y < h; y++) {
                        for (int x = 0; x < w; x++) {
                            int i = (c * h + y) * w + x;
                            boolean inRegion = x >= region.x1() && x < region.x2() && y >= region.y1() && y < region.y2();
                            boolean masked = x >= 34 && x < 42 && y >= 4 && y < 12;
                            if (!masked) {
                                assertThat(out[i]).as("unmasked pixel %d,%d,%d (in region: %s)", c, x, y, inRegion)
                                        .isEqualTo(pixels[i]);
                            } else if (out[i] != pixels[i]) {
                                changed++;
                            }
                        }
                    }
                }
                assertThat(changed).as("masked values repainted").isGreaterThan(3 * 64 / 2);

                // The masked pixels are the whole-picture inpainting of the crop, brought back to the region's size.
                try (Tensor imageCut = region.cut(image); Tensor maskCut = region.cut(mask);
                     Tensor cropImage = A1111Resize.resizeAndFill(imageCut, 32, 32);
                     Tensor cropMask = A1111Resize.resizeAndFill(maskCut, 32, 32);
                     GenerationResult crop = pipeline.generate(request.toBuilder().initImage(cropImage, 1f).mask(cropMask)
                             .inpaintArea(GenerationRequest.InpaintArea.WHOLE_PICTURE).build(), ProgressListener.NONE);
                     Tensor back = A1111Resize.cropAndResize(crop.image(), region.width(), region.height())) {
                    assertThat(result.latents()).containsExactly(crop.latents());
                    for (int c = 0; c < 3; c++) {
                        for (int y = 4; y < 12; y++) {
                            for (int x = 34; x < 42; x++) {
                                float expected = back.getFloat(((long) c * region.height() + y - region.y1()) * region.width() + x - region.x1());
                                assertThat(out[(c * h + y) * w + x]).isEqualTo(expected);
                            }
                        }
                    }
                }
            }
        }
    }

    /**
     * Against diffusers' StableDiffusionInpaintPipeline(padding_mask_crop=N), which is A1111's inpaint_full_res
     * (tiny-sd-inpaint/golden-crop, tools/reference/make_inpaint_crop_goldens.py): the crop region, the crop's final
     * latents, and the pasted 8-bit image. diffusers resizes 8-bit PIL images where jdiffusion resizes floats, so
     * the case that resamples carries that rounding through the chain.
     */
    @ParameterizedTest
    @CsvSource({"crop_same_size, 1e-4, 1", "crop_upscaled, 1e-2, 2"})
    void matchesDiffusersPaddingMaskCrop(String name, double latentTolerance, int maxPixelDifference) throws IOException {
        Path dir = TinySd.set("tiny-sd-inpaint").resolve("golden-crop");
        JsonNode c = null;
        for (JsonNode entry : new ObjectMapper().readTree(dir.resolve("inpaint_crop.json").toFile()).get("cases")) {
            if (entry.get("name").asText().equals(name)) {
                c = entry;
            }
        }
        assertThat(c).as(name).isNotNull();
        int w = c.get("image_size").get(0).asInt();
        int h = c.get("image_size").get(1).asInt();
        float[] pixels = new float[3 * h * w];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                pixels[y * w + x] = (x * 255 / (w - 1)) / 255f;
                pixels[h * w + y * w + x] = (y * 255 / (h - 1)) / 255f;
                pixels[2 * h * w + y * w + x] = ((x + y) * 37 % 256) / 255f;
            }
        }
        JsonNode box = c.get("box");
        JsonNode expectedRegion = c.get("crop_region");
        int padding = c.get("padding").asInt();
        try (Tensor image = Tensor.ofFloats(Shape.of(1, 3, h, w), pixels);
             Tensor mask = boxMask(w, h, box.get(0).asInt(), box.get(1).asInt(), box.get(2).asInt(), box.get(3).asInt());
             SafetensorsFile golden = SafetensorsFile.open(dir.resolve("inpaint_crop.safetensors"))) {
            CropRegion region = CropRegion.around(mask, padding).expandedTo(32, 32, w, h);
            assertThat(region).isEqualTo(new CropRegion(expectedRegion.get(0).asInt(), expectedRegion.get(1).asInt(),
                    expectedRegion.get(2).asInt(), expectedRegion.get(3).asInt()));
            GenerationRequest request = GenerationRequest.builder().prompt(c.get("prompt").asText()).seed(c.get("seed").asLong())
                    .sampler("ddim").steps(c.get("steps").asInt()).guidanceScale((float) c.get("guidance").asDouble())
                    .size(32, 32).initImage(image, 1f).mask(mask)
                    .inpaintArea(GenerationRequest.InpaintArea.onlyMasked(padding)).build();
            try (GenerationResult result = pipeline.generate(request, ProgressListener.NONE);
                 Tensor latents = Tensor.ofFloats(Shape.of(1, 4, 16, 16), result.latents())) {
                Golden.check(name + " crop latents", latents, golden.tensor(name + ".final_latents"), latentTolerance);
                Tensor expected = golden.tensor(name + ".image_u8");
                int worst = 0;
                for (int y = 0; y < h; y++) {
                    for (int x = 0; x < w; x++) {
                        for (int ch = 0; ch < 3; ch++) {
                            int actual = Math.round(255 * result.image().getFloat(((long) ch * h + y) * w + x));
                            worst = Math.max(worst, Math.abs(actual - (int) expected.getLong(((long) y * w + x) * 3 + ch)));
                        }
                    }
                }
                System.out.println("GOLDEN " + name + " image: largest 8-bit difference " + worst);
                assertThat(worst).as(name + " largest 8-bit difference from diffusers' image").isLessThanOrEqualTo(maxPixelDifference);
            }
        }
    }

    @Test
    void onlyMaskedNeedsAMaskOfTheImagesSizeAndReportsABlankMask() {
        try (Tensor image = Tensor.allocate(Shape.of(1, 3, 40, 48), io.jdiffusion.core.DType.F32);
             Tensor smallMask = boxMask(32, 32, 0, 0, 8, 8);
             Tensor blank = boxMask(48, 40, 0, 0, 0, 0)) {
            var onlyMasked = GenerationRequest.InpaintArea.onlyMasked(32);
            assertThatThrownBy(() -> GenerationRequest.builder().size(32, 32).initImage(image, 1f).inpaintArea(onlyMasked).build())
                    .hasMessageContaining("needs a mask");
            assertThatThrownBy(() -> GenerationRequest.builder().size(32, 32).initImage(image, 1f).mask(smallMask)
                    .inpaintArea(onlyMasked).build()).hasMessageContaining("must have the init image's size");
            assertThatThrownBy(() -> GenerationRequest.InpaintArea.onlyMasked(-1)).hasMessageContaining("0 or more pixels");
            GenerationRequest blankRequest = GenerationRequest.builder().size(32, 32).steps(1).initImage(image, 1f).mask(blank)
                    .inpaintArea(onlyMasked).build();
            assertThatThrownBy(() -> pipeline.generate(blankRequest, ProgressListener.NONE))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("the mask has no white pixels");
        }
    }

    @Test
    void theInfotextCarriesA1111sKeys() {
        try (Tensor image = Tensor.allocate(Shape.of(1, 3, 40, 48), io.jdiffusion.core.DType.F32);
             Tensor mask = boxMask(48, 40, 0, 0, 8, 8)) {
            GenerationRequest request = GenerationRequest.builder().prompt("x").size(32, 32).initImage(image, 0.75f).mask(mask)
                    .inpaintArea(GenerationRequest.InpaintArea.onlyMasked(32)).build();
            String text = A1111Infotext.generation(request, model, 32, 32).build();
            assertThat(text).contains("Denoising strength: 0.75, Inpaint area: Only masked, Masked area padding: 32");
            String whole = A1111Infotext.generation(request.toBuilder().size(48, 40)
                    .inpaintArea(GenerationRequest.InpaintArea.WHOLE_PICTURE).build(), model, 48, 40).build();
            assertThat(whole).doesNotContain("Inpaint area").doesNotContain("Masked area padding");
        }
    }
}
