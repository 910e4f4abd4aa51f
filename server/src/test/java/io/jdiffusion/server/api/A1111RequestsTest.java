package io.jdiffusion.server.api;

import io.jdiffusion.models.scheduler.Schedule;
import io.jdiffusion.models.pipeline.GenerationRequest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The pure request mappings: JSON bytes to a job, or one error naming the field. */
class A1111RequestsTest {
    private static final ModelFacts SD15 = new ModelFacts("v1-5", "6ce0161689", "pndm", 512, 512, 8, false);
    private static final RequestLimits LIMITS = RequestLimits.DEFAULTS;

    private static ImageJob txt2img(String json) {
        return A1111Requests.txt2img(json.getBytes(StandardCharsets.UTF_8), SD15, LIMITS);
    }

    @Test
    void defaultsAreA1111sExceptTheSizeWhichIsTheModels() {
        ImageJob job = txt2img("{}");
        GenerationRequest r = job.request();
        assertThat(r.prompt().prompt()).isEmpty();
        assertThat(r.sampling().steps()).isEqualTo(50);
        assertThat(r.sampling().guidanceScale()).isEqualTo(7.0f);
        assertThat(r.sampling().sampler().cliName()).isEqualTo("euler");
        assertThat(r.sampling().schedule()).isEqualTo(Schedule.DEFAULT);
        assertThat(r.size().width()).isEqualTo(512);
        assertThat(job.randomSeed()).isTrue();
        assertThat(job.imageCount()).isEqualTo(1);
        assertThat(job.parameters().get("sampler_index").asText()).isEqualTo("Euler");
        assertThat(job.parameters().get("width").asInt()).isEqualTo(512);
    }

    @Test
    void fieldsMapAndUnknownOnesAreIgnored() {
        ImageJob job = txt2img("{\"prompt\": \"p\", \"negative_prompt\": \"n\", \"seed\": 12, \"steps\": \"30\", \"cfg_scale\": 4,"
                + " \"width\": 768.0, \"height\": 640, \"batch_size\": 2, \"n_iter\": 3, \"sampler_name\": \"Euler a Karras\","
                + " \"enable_hr\": \"false\", \"no_such_field\": [1, {\"a\": null}]}");
        GenerationRequest r = job.request();
        assertThat(r.prompt().prompt()).isEqualTo("p");
        assertThat(r.prompt().negativePrompt()).isEqualTo("n");
        assertThat(r.sampling().seed()).isEqualTo(12);
        assertThat(r.sampling().steps()).isEqualTo(30);
        assertThat(r.sampling().guidanceScale()).isEqualTo(4f);
        assertThat(r.size().width()).isEqualTo(768);
        assertThat(r.size().height()).isEqualTo(640);
        assertThat(r.sampling().sampler().cliName()).isEqualTo("euler_a");
        assertThat(r.sampling().schedule()).isEqualTo(Schedule.KARRAS);
        assertThat(job.sampler()).isEqualTo("Euler a Karras");
        assertThat(job.imageCount()).isEqualTo(6);
        assertThat(job.randomSeed()).isFalse();
        assertThat(job.parameters().has("no_such_field")).isFalse();
    }

    @Test
    void aMessageQuotingTheClientStaysOneBoundedLine() {
        assertThatThrownBy(() -> txt2img("{\"sampler_name\": \"DPM++ 2M ka\\rras\\n\\u0007\"}"))
                .isInstanceOfSatisfying(InvalidRequestException.class, e -> assertThat(e.getMessage())
                        .contains("'DPM++ 2M ka ras").doesNotContain("\r").doesNotContain("\n"));
        assertThatThrownBy(() -> txt2img("{\"sampler_name\": \"" + "x".repeat(100_000) + "\"}"))
                .isInstanceOfSatisfying(InvalidRequestException.class, e -> assertThat(e.getMessage()).hasSizeLessThan(1100));
    }

    @Test
    void overrideSettingsAsFarAsTheyApply() {
        ImageJob plain = txt2img("{}");
        assertThat(plain.checkpoint()).isNull();
        assertThat(plain.restoreCheckpoint()).isTrue();
        ImageJob job = txt2img("{\"sampler_name\": \"DDIM\", \"override_settings\": {\"sd_model_checkpoint\": \"tiny-sd2\","
                + " \"eta_ddim\": 0.25, \"eta_ancestral\": 1, \"CLIP_stop_at_last_layers\": 1, \"sd_vae\": \"Automatic\","
                + " \"unknown_key\": [1]}, \"override_settings_restore_afterwards\": false}");
        assertThat(job.checkpoint()).isEqualTo("tiny-sd2");
        assertThat(job.restoreCheckpoint()).isFalse();
        assertThat(job.request().sampling().eta()).isEqualTo(0.25f);
        // The request's own eta wins over the setting, as in A1111.
        assertThat(txt2img("{\"sampler_name\": \"DDIM\", \"eta\": 0.5, \"override_settings\": {\"eta_ddim\": 0.25}}")
                .request().sampling().eta()).isEqualTo(0.5f);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "DPM++ 2M|karras|dpmpp_2m|true",
            "k_dpmpp_2m|Automatic|dpmpp_2m|false",
            "dpmpp_2m|uniform|dpmpp_2m|false",
            "DDIM|automatic|ddim|false",
            "PLMS||pndm|false",
            "LMS Karras||lms|true"})
    void samplerNames(String name, String scheduler, String sampler, boolean karras) {
        String sched = scheduler == null ? "" : ", \"scheduler\": \"" + scheduler + "\"";
        GenerationRequest r = txt2img("{\"sampler_name\": \"" + name + "\"" + sched + "}").request();
        assertThat(r.sampling().sampler().cliName()).isEqualTo(sampler);
        assertThat(r.sampling().schedule() == Schedule.KARRAS).isEqualTo(karras);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "{\"steps\": \"ten\"}|steps|422",
            "{\"steps\": 2.5}|steps|422",
            "{\"steps\": 0}|steps|422",
            "{\"steps\": 100000}|steps|422",
            "{\"steps\": 1e400}|steps|422",
            "{\"steps\": \"1e999999999\"}|steps|422",
            "{\"seed\": -2}|seed|422",
            "{\"seed\": 18446744073709551616}|seed|422",
            "{\"prompt\": 3}|prompt|422",
            "{\"prompt\": [\"a\"]}|prompt|422",
            "{\"negative_prompt\": {}}|negative_prompt|422",
            "{\"cfg_scale\": \"high\"}|cfg_scale|422",
            "{\"cfg_scale\": true}|cfg_scale|422",
            "{\"width\": 500}|width|422",
            "{\"height\": -64}|height|422",
            "{\"width\": 8192, \"height\": 8192}|width|422",
            "{\"batch_size\": 0}|batch_size|422",
            "{\"batch_size\": 8, \"n_iter\": 8}|batch_size|422",
            "{\"restore_faces\": \"maybe\"}|restore_faces|422",
            "{\"sampler_name\": \"DPM fast\"}|sampler_name|404",
            "{\"sampler_index\": 3}|sampler_index|422",
            "{\"scheduler\": \"polyexponential\"}|scheduler|422",
            "{\"sampler_name\": \"DDIM\", \"scheduler\": \"karras\"}|scheduler|422",
            "{\"override_settings\": {\"sd_model_checkpoint\": 3}}|override_settings.sd_model_checkpoint|422",
            "{\"override_settings\": {\"eta_ddim\": \"a lot\"}}|override_settings.eta_ddim|422",
            "{\"override_settings\": {\"eta_ddim\": -1}}|override_settings.eta_ddim|422",
            "{\"override_settings\": {\"eta_ancestral\": 0.5}}|override_settings.eta_ancestral|422",
            "{\"override_settings\": {\"CLIP_stop_at_last_layers\": 2}}|override_settings.CLIP_stop_at_last_layers|422",
            "{\"override_settings\": {\"CLIP_stop_at_last_layers\": \"two\"}}|override_settings.CLIP_stop_at_last_layers|422",
            "{\"override_settings_restore_afterwards\": \"perhaps\"}|override_settings_restore_afterwards|422",
            "{\"eta\": -0.5}|eta|422",
            "{\"prompt\": \"%s\"}|prompt|422",
            "{\"override_settings\": []}|override_settings|422",
            "{\"prompt\": \"a\", \"prompt\": \"b\"}|body|422",
            "{\"prompt\": |body|422",
            "\"just a string\"|body|422",
            "null|body|422",
            "|body|422"})
    void badRequestsNameTheirField(String json, String field, int status) {
        String body = json == null ? "" : json.replace("%s", "x".repeat(io.jdiffusion.models.pipeline.RequestLimits.MAX_PROMPT_CHARS + 1));
        assertThatThrownBy(() -> txt2img(body))
                .isInstanceOfSatisfying(InvalidRequestException.class, e -> {
                    assertThat(e.field()).isEqualTo(field);
                    assertThat(e.status()).isEqualTo(status);
                });
    }

    @Test
    void img2imgDecodesAndResizesTheInitImage() throws IOException {
        String png = Base64.getMimeEncoder().encodeToString(png(new BufferedImage(100, 60, BufferedImage.TYPE_INT_RGB)));
        try (ImageJob job = A1111Requests.img2img(("{\"init_images\": [\"" + png.replace("\r\n", "\\n") + "\"], \"width\": 64, "
                + "\"height\": 64, \"denoising_strength\": 0.6}").getBytes(StandardCharsets.UTF_8), SD15, LIMITS)) {
            assertThat(job.request().image().initImage().shape().toString()).contains("1", "3", "64");
            assertThat(job.request().image().strength()).isEqualTo(0.6f);
            assertThat(job.parameters().get("init_images").isNull()).isTrue();
        }
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "{\"init_images\": [\"@@@@\"]}|init_images[0]|422",
            "{\"init_images\": [\"aGVsbG8=\"]}|init_images[0]|422",
            "{\"init_images\": [\"data:image/png,abc\"]}|init_images[0]|422",
            "{\"init_images\": [\"\"]}|init_images[0]|422",
            "{\"init_images\": [3]}|init_images[0]|422",
            "{\"init_images\": \"abc\"}|init_images|422",
            "{}|init_images|422",
            "{\"init_images\": [\"aGVsbG8=\"], \"denoising_strength\": 0}|denoising_strength|422",
            "{\"init_images\": [\"aGVsbG8=\"], \"mask_blur\": \"soft\"}|mask_blur|422",
            "{\"init_images\": [\"aGVsbG8=\"], \"inpaint_full_res\": \"maybe\"}|inpaint_full_res|422",
            "{\"init_images\": [\"aGVsbG8=\"], \"inpainting_fill\": []}|inpainting_fill|422"})
    void badImagesNameTheirField(String json, String field, int status) {
        assertThatThrownBy(() -> A1111Requests.img2img(json.getBytes(StandardCharsets.UTF_8), SD15, LIMITS))
                .isInstanceOfSatisfying(InvalidRequestException.class, e -> {
                    assertThat(e.field()).isEqualTo(field);
                    assertThat(e.status()).isEqualTo(status);
                });
    }

    @Test
    void aMaskIsReadInvertedAndBlurredAsA1111ReadsIt() throws IOException {
        BufferedImage leftWhite = new BufferedImage(64, 64, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 64; y++) {
            for (int x = 0; x < 32; x++) {
                leftWhite.setRGB(x, y, 0xFFFFFF);
            }
        }
        try (ImageJob job = img2img(", \"mask\": \"" + base64(leftWhite) + "\", \"mask_blur\": 0")) {
            float[] m = job.request().image().mask().toFloatArray();
            assertThat(m[0]).isEqualTo(1f);
            assertThat(m[63]).isEqualTo(0f);
            assertThat(job.infotext()).isEmpty();
            assertThat(job.parameters().get("inpainting_fill").asInt()).isEqualTo(1);
            assertThat(job.parameters().get("mask").isNull()).isTrue();
        }
        try (ImageJob job = img2img(", \"mask\": \"" + base64(leftWhite) + "\", \"inpainting_mask_invert\": 1,"
                + " \"inpainting_fill\": 1, \"inpaint_full_res\": false")) {
            float[] m = job.request().image().mask().toFloatArray();
            assertThat(m[0]).isEqualTo(0f);
            assertThat(m[63]).isEqualTo(1f);
            // A1111's default blur of 4 softens the edge between columns 31 and 32.
            assertThat(m[31]).isStrictlyBetween(0f, 0.5f);
            assertThat(m[32]).isStrictlyBetween(0.5f, 1f);
            assertThat(job.infotext()).containsExactly(java.util.Map.entry("Mask mode", "Inpaint not masked"),
                    java.util.Map.entry("Mask blur", 4));
        }
        // An RGBA mask with transparency is a mask by its alpha: opaque repaints, whatever the colour.
        BufferedImage alpha = new BufferedImage(64, 64, BufferedImage.TYPE_INT_ARGB);
        alpha.setRGB(0, 0, 0xFF000000);
        try (ImageJob job = img2img(", \"mask\": \"" + base64(alpha) + "\", \"mask_blur\": 0")) {
            float[] m = job.request().image().mask().toFloatArray();
            assertThat(m[0]).isEqualTo(1f);
            assertThat(m[1]).isEqualTo(0f);
        }
    }

    @Test
    void onlyMaskedIsA1111sDefaultAndKeepsTheInitImagesSize() throws IOException {
        String init = base64(new BufferedImage(96, 80, BufferedImage.TYPE_INT_RGB));
        BufferedImage spot = new BufferedImage(96, 80, BufferedImage.TYPE_INT_RGB);
        spot.setRGB(40, 30, 0xFFFFFF);
        String mask = base64(spot);
        String body = "{\"init_images\": [\"" + init + "\"], \"width\": 64, \"height\": 64, \"mask\": \"" + mask + "\"";
        try (ImageJob job = A1111Requests.img2img((body + "}").getBytes(StandardCharsets.UTF_8), SD15, LIMITS)) {
            GenerationRequest.ImageInput image = job.request().image();
            assertThat(image.area()).isEqualTo(GenerationRequest.InpaintArea.onlyMasked(0));
            assertThat(image.initImage().shape().dims()).containsExactly(1, 3, 80, 96);
            assertThat(image.mask().shape().dims()).containsExactly(1, 1, 80, 96);
            assertThat(job.request().size().width()).isEqualTo(64);
            assertThat(job.parameters().get("inpaint_full_res").asBoolean()).isTrue();
        }
        try (ImageJob job = A1111Requests.img2img((body + ", \"inpaint_full_res_padding\": 32}")
                .getBytes(StandardCharsets.UTF_8), SD15, LIMITS)) {
            assertThat(job.request().image().area()).isEqualTo(GenerationRequest.InpaintArea.onlyMasked(32));
            assertThat(job.parameters().get("inpaint_full_res_padding").asInt()).isEqualTo(32);
        }
        // The whole picture: brought to width x height; the padding A1111's UI always sends is ignored, as there.
        try (ImageJob job = A1111Requests.img2img((body + ", \"inpaint_full_res\": false, \"inpaint_full_res_padding\": 32}")
                .getBytes(StandardCharsets.UTF_8), SD15, LIMITS)) {
            GenerationRequest.ImageInput image = job.request().image();
            assertThat(image.area()).isEqualTo(GenerationRequest.InpaintArea.WHOLE_PICTURE);
            assertThat(image.initImage().shape().dims()).containsExactly(1, 3, 64, 64);
            assertThat(job.parameters().get("inpaint_full_res").asBoolean()).isFalse();
        }
        // No mask: plain img2img at width x height, whatever the area says.
        try (ImageJob job = A1111Requests.img2img(("{\"init_images\": [\"" + init + "\"], \"width\": 64, \"height\": 64}")
                .getBytes(StandardCharsets.UTF_8), SD15, LIMITS)) {
            assertThat(job.request().image().area()).isEqualTo(GenerationRequest.InpaintArea.WHOLE_PICTURE);
            assertThat(job.request().image().initImage().shape().dims()).containsExactly(1, 3, 64, 64);
        }
    }

    @Test
    void onlyAnRgbaMasksAlphaMakesTheMask() throws IOException {
        // Grey+alpha, as PIL's mode "LA": A1111 reads it by its luma (black: keep), not its alpha.
        BufferedImage greyAlpha = new BufferedImage(
                new java.awt.image.ComponentColorModel(java.awt.color.ColorSpace.getInstance(java.awt.color.ColorSpace.CS_GRAY),
                        true, false, java.awt.Transparency.TRANSLUCENT, java.awt.image.DataBuffer.TYPE_BYTE),
                java.awt.image.Raster.createInterleavedRaster(java.awt.image.DataBuffer.TYPE_BYTE, 64, 64, 2, null), false, null);
        greyAlpha.getRaster().setPixel(0, 0, new int[]{0, 255});
        try (ImageJob job = img2img(", \"mask\": \"" + base64(greyAlpha) + "\", \"mask_blur\": 0, \"inpaint_full_res\": false")) {
            float[] m = job.request().image().mask().toFloatArray();
            assertThat(m[0]).isEqualTo(0f);
            assertThat(m[1]).isEqualTo(0f);
        }
        // RGBA, fully opaque: read by its luma too (white repaints).
        BufferedImage opaque = new BufferedImage(64, 64, BufferedImage.TYPE_INT_ARGB);
        for (int y = 0; y < 64; y++) {
            for (int x = 0; x < 64; x++) {
                opaque.setRGB(x, y, x < 32 ? 0xFFFFFFFF : 0xFF000000);
            }
        }
        try (ImageJob job = img2img(", \"mask\": \"" + base64(opaque) + "\", \"mask_blur\": 0, \"inpaint_full_res\": false")) {
            float[] m = job.request().image().mask().toFloatArray();
            assertThat(m[0]).isEqualTo(1f);
            assertThat(m[63]).isEqualTo(0f);
        }
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "\"inpainting_fill\": 0|inpainting_fill|fill",
            "\"inpainting_fill\": 2|inpainting_fill|latent noise",
            "\"inpainting_fill\": 7|inpainting_fill|got 7",
            "\"inpaint_full_res_padding\": -1|inpaint_full_res_padding|0 or more",
            "\"mask_blur\": 65|mask_blur|[0, 64]",
            "\"mask_blur_x\": -1, \"mask_blur_y\": -1|mask_blur_x|[0, 64]",
            "\"mask_blur_x\": 2|mask_blur_y|mask_blur",
            "\"inpainting_mask_invert\": 2|inpainting_mask_invert|got 2"})
    void inpaintingOptionsJdiffusionDoesNotHaveAre422NamingTheField(String fields, String field, String says) throws IOException {
        String mask = base64(new BufferedImage(64, 64, BufferedImage.TYPE_INT_RGB));
        assertThatThrownBy(() -> img2img(", \"mask\": \"" + mask + "\", " + fields))
                .isInstanceOfSatisfying(InvalidRequestException.class, e -> {
                    assertThat(e.field()).isEqualTo(field);
                    assertThat(e.status()).isEqualTo(422);
                    assertThat(e.getMessage()).contains(says);
                });
    }

    @Test
    void aBadMaskIsRefusedLikeABadInitImage() throws IOException {
        RequestLimits tight = new RequestLimits(1 << 20, 1 << 16, 64 * 64, 4, 50);
        String init = base64(new BufferedImage(64, 64, BufferedImage.TYPE_INT_RGB));
        String bigCanvas = base64(new BufferedImage(2000, 2000, BufferedImage.TYPE_BYTE_BINARY));
        for (String[] c : new String[][]{{"@@@@", "422"}, {"aGVsbG8=", "422"}, {bigCanvas, "413"}}) {
            byte[] body = ("{\"init_images\": [\"" + init + "\"], \"width\": 64, \"height\": 64, \"mask\": \"" + c[0] + "\"}")
                    .getBytes(StandardCharsets.UTF_8);
            assertThatThrownBy(() -> A1111Requests.img2img(body, SD15, tight))
                    .isInstanceOfSatisfying(InvalidRequestException.class, e -> {
                        assertThat(e.field()).isEqualTo("mask");
                        assertThat(e.status()).isEqualTo(Integer.parseInt(c[1]));
                    });
        }
    }

    private static ImageJob img2img(String moreFields) throws IOException {
        String init = base64(new BufferedImage(64, 64, BufferedImage.TYPE_INT_RGB));
        return A1111Requests.img2img(("{\"init_images\": [\"" + init + "\"], \"width\": 64, \"height\": 64" + moreFields + "}")
                .getBytes(StandardCharsets.UTF_8), SD15, LIMITS);
    }

    private static String base64(BufferedImage image) throws IOException {
        return Base64.getEncoder().encodeToString(png(image));
    }

    @Test
    void imageSizeIsCheckedBeforeDecoding() throws IOException {
        RequestLimits tight = new RequestLimits(1 << 20, 4096, 64 * 64, 4, 50);
        // Over the byte limit: refused from the base64 length alone.
        String long64 = "A".repeat(8000);
        assertThatThrownBy(() -> Base64Images.decode("init_images[0]", long64, tight))
                .isInstanceOfSatisfying(InvalidRequestException.class, e -> assertThat(e.status()).isEqualTo(413));
        // A small file claiming many pixels: refused from its header.
        byte[] bigCanvas = png(new BufferedImage(2000, 2000, BufferedImage.TYPE_BYTE_BINARY));
        assertThat(bigCanvas.length).isLessThan(4096);
        String encoded = Base64.getEncoder().encodeToString(bigCanvas);
        assertThatThrownBy(() -> Base64Images.decode("init_images[0]", encoded, tight))
                .isInstanceOfSatisfying(InvalidRequestException.class, e -> {
                    assertThat(e.status()).isEqualTo(413);
                    assertThat(e.getMessage()).contains("2000x2000");
                });
    }

    @Test
    void openAiRequests() {
        ImageJob job = OpenAiRequests.generations("{\"prompt\": \"p\", \"n\": 3, \"size\": \"256x128\", \"quality\": \"hd\"}"
                .getBytes(StandardCharsets.UTF_8), SD15, LIMITS);
        assertThat(job.imageCount()).isEqualTo(3);
        assertThat(job.request().size().width()).isEqualTo(256);
        assertThat(job.request().size().height()).isEqualTo(128);
        for (String bad : new String[]{"{}", "{\"prompt\": \"p\", \"n\": 0}", "{\"prompt\": \"p\", \"size\": \"1x1\"}",
                "{\"prompt\": \"p\", \"response_format\": \"url\"}", "{\"prompt\": 1}"}) {
            assertThatThrownBy(() -> OpenAiRequests.generations(bad.getBytes(StandardCharsets.UTF_8), SD15, LIMITS))
                    .isInstanceOfSatisfying(InvalidRequestException.class, e -> assertThat(e.status()).isEqualTo(400));
        }
    }

    private static byte[] png(BufferedImage image) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(image, "png", out);
        return out.toByteArray();
    }
}
