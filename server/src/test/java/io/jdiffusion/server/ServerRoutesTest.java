package io.jdiffusion.server;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.server.api.JsonFields;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Every route of the server, on the tiny model, through a real HTTP client on loopback. */
class ServerRoutesTest {
    /** Small and short, so each job takes a fraction of a second on a busy CPU. */
    private static final String SMALL = "\"width\": 32, \"height\": 32, \"steps\": 2";

    private static TinyServer tiny;

    @BeforeAll
    static void start() {
        tiny = new TinyServer(4);
    }

    @AfterAll
    static void stop() {
        tiny.close();
    }

    @Test
    void txt2imgAnswersA1111Shape() throws Exception {
        HttpResponse<String> r = tiny.post("/sdapi/v1/txt2img", "{\"prompt\": \"a red barn\", \"negative_prompt\": \"fog\", "
                + SMALL + ", \"seed\": 42, \"batch_size\": 2, \"sampler_name\": \"DPM++ 2M\", \"scheduler\": \"karras\", "
                + "\"cfg_scale\": 5.5, \"some_extension_field\": {\"x\": 1}}");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonNode body = TinyServer.json(r);
        assertThat(body.get("images")).hasSize(2);
        BufferedImage image = png(body.get("images").get(0).asText());
        assertThat(image.getWidth()).isEqualTo(32);
        assertThat(image.getHeight()).isEqualTo(32);
        assertThat(body.get("parameters").get("prompt").asText()).isEqualTo("a red barn");
        assertThat(body.get("parameters").get("steps").asInt()).isEqualTo(2);
        assertThat(body.get("parameters").has("some_extension_field")).isFalse();
        JsonNode info = JsonFields.mapper().readTree(body.get("info").asText());
        assertThat(info.get("seed").asLong()).isEqualTo(42);
        assertThat(info.get("all_seeds")).extracting(JsonNode::asLong).containsExactly(42L, 43L);
        assertThat(info.get("sampler_name").asText()).isEqualTo("DPM++ 2M Karras");
        assertThat(info.get("infotexts").get(1).asText())
                .startsWith("a red barn\nNegative prompt: fog\nSteps: 2, Sampler: DPM++ 2M Karras, CFG scale: 5.5, Seed: 43, Size: 32x32");
        assertThat(info.get("job_timestamp").asText()).matches("\\d{14}");
    }

    @Test
    void sameSeedSameImageRandomSeedReported() throws Exception {
        String request = "{\"prompt\": \"x\", " + SMALL + ", \"seed\": 7}";
        String a = TinyServer.json(tiny.post("/sdapi/v1/txt2img", request)).get("images").get(0).asText();
        String b = TinyServer.json(tiny.post("/sdapi/v1/txt2img", request)).get("images").get(0).asText();
        assertThat(a).isEqualTo(b);
        JsonNode random = TinyServer.json(tiny.post("/sdapi/v1/txt2img", "{\"prompt\": \"x\", " + SMALL + "}"));
        long seed = JsonFields.mapper().readTree(random.get("info").asText()).get("seed").asLong();
        assertThat(seed).isBetween(0L, 4_294_967_294L);
    }

    @Test
    void img2imgTakesBase64InitImage() throws Exception {
        String init = Base64.getEncoder().encodeToString(pngBytes(new BufferedImage(40, 24, BufferedImage.TYPE_INT_RGB)));
        HttpResponse<String> r = tiny.post("/sdapi/v1/img2img", "{\"prompt\": \"p\", \"init_images\": [\"data:image/png;base64,"
                + init + "\"], \"denoising_strength\": 0.5, " + SMALL + ", \"seed\": 1}");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonNode body = TinyServer.json(r);
        assertThat(png(body.get("images").get(0).asText()).getWidth()).isEqualTo(32);
        assertThat(body.get("parameters").get("init_images").isNull()).isTrue();
        JsonNode info = JsonFields.mapper().readTree(body.get("info").asText());
        assertThat(info.get("denoising_strength").asDouble()).isEqualTo(0.5);
    }

    /**
     * The tiny model's UNet has 4 input channels, so the pipeline blends the kept part back after each step:
     * an all-white mask repaints everything and, with Euler (no noise after the first draw), gives exactly the
     * image plain img2img gives; an all-black mask inverted is the same mask; an all-black one keeps the init.
     */
    @Test
    void img2imgInpaintsWithAMask() throws Exception {
        BufferedImage initImage = new BufferedImage(32, 32, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 32; y++) {
            for (int x = 0; x < 32; x++) {
                initImage.setRGB(x, y, (x * 8) << 16 | (y * 8) << 8 | 0x40);
            }
        }
        String init = Base64.getEncoder().encodeToString(pngBytes(initImage));
        String white = Base64.getEncoder().encodeToString(pngBytes(filled(0xFFFFFF)));
        String black = Base64.getEncoder().encodeToString(pngBytes(filled(0)));
        String common = "{\"prompt\": \"p\", \"sampler_name\": \"Euler\", \"init_images\": [\"" + init
                + "\"], \"denoising_strength\": 0.9, " + SMALL + ", \"seed\": 3";
        JsonNode plain = TinyServer.json(tiny.post("/sdapi/v1/img2img", common + "}"));
        HttpResponse<String> whiteResponse = tiny.post("/sdapi/v1/img2img", common + ", \"mask\": \"" + white + "\"}");
        assertThat(whiteResponse.statusCode()).as(whiteResponse.body()).isEqualTo(200);
        JsonNode whiteMask = TinyServer.json(whiteResponse);
        JsonNode inverted = TinyServer.json(tiny.post("/sdapi/v1/img2img", common + ", \"mask\": \"" + black
                + "\", \"inpainting_mask_invert\": 1}"));
        JsonNode keep = TinyServer.json(tiny.post("/sdapi/v1/img2img", common + ", \"mask\": \"" + black
                + "\", \"mask_blur\": 0, \"inpaint_full_res\": false}"));
        // "Only masked" with a blank mask has nothing to crop around: as in A1111, it runs as plain img2img and says so.
        JsonNode blank = TinyServer.json(tiny.post("/sdapi/v1/img2img", common + ", \"mask\": \"" + black + "\"}"));
        String plainPixels = pixels(plain);
        assertThat(pixels(whiteMask)).isEqualTo(plainPixels);
        assertThat(pixels(inverted)).isEqualTo(plainPixels);
        assertThat(pixels(keep)).isNotEqualTo(plainPixels);
        assertThat(pixels(blank)).isEqualTo(plainPixels);
        assertThat(JsonFields.mapper().readTree(blank.get("info").asText()).get("warnings").get(0).asText())
                .contains("mask is blank, switch to img2img mode");
        JsonNode info = JsonFields.mapper().readTree(whiteMask.get("info").asText());
        assertThat(info.get("infotexts").get(0).asText()).contains("Denoising strength: 0.9, ").contains(", Mask blur: 4")
                .contains("Inpaint area: Only masked, Masked area padding: 0");
        assertThat(info.get("extra_generation_params").get("Mask blur").asInt()).isEqualTo(4);
        assertThat(JsonFields.mapper().readTree(inverted.get("info").asText()).get("infotexts").get(0).asText())
                .contains("Mask mode: Inpaint not masked");
        assertError(tiny.post("/sdapi/v1/img2img", common + ", \"mask\": \"" + white + "\", \"inpainting_fill\": 0}"),
                422, "inpainting_fill");
        // Only masked (the default), a mask of one corner quarter: outside it the init image's pixels are kept.
        BufferedImage corner = filled(0);
        for (int y = 0; y < 16; y++) {
            for (int x = 0; x < 16; x++) {
                corner.setRGB(x, y, 0xFFFFFF);
            }
        }
        JsonNode onlyMasked = TinyServer.json(tiny.post("/sdapi/v1/img2img", common + ", \"mask\": \""
                + Base64.getEncoder().encodeToString(pngBytes(corner)) + "\", \"mask_blur\": 0}"));
        BufferedImage out = javax.imageio.ImageIO.read(new java.io.ByteArrayInputStream(
                Base64.getDecoder().decode(onlyMasked.get("images").get(0).asText())));
        assertThat(out.getWidth()).isEqualTo(initImage.getWidth());
        assertThat(out.getRGB(31, 31) & 0xFFFFFF).isEqualTo(initImage.getRGB(31, 31) & 0xFFFFFF);
        assertThat(out.getRGB(20, 5) & 0xFFFFFF).isEqualTo(initImage.getRGB(20, 5) & 0xFFFFFF);
        assertThat(JsonFields.mapper().readTree(onlyMasked.get("info").asText()).get("infotexts").get(0).asText())
                .contains("Masked area padding: 0");
        assertError(tiny.post("/sdapi/v1/img2img", common + ", \"mask\": \"bm90IGFuIGltYWdl\"}"), 422, "mask");
    }

    private static BufferedImage filled(int rgb) {
        BufferedImage image = new BufferedImage(32, 32, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 32; y++) {
            for (int x = 0; x < 32; x++) {
                image.setRGB(x, y, rgb);
            }
        }
        return image;
    }

    /** The decoded pixels of a response's first image (PNG bytes differ by their parameters text). */
    private static String pixels(JsonNode response) throws IOException {
        BufferedImage image = png(response.get("images").get(0).asText());
        return java.util.Arrays.toString(image.getRGB(0, 0, image.getWidth(), image.getHeight(), null, 0, image.getWidth()));
    }

    @Test
    void badJsonWrongTypesAndBadValuesAre422NamingTheField() throws Exception {
        assertError(tiny.post("/sdapi/v1/txt2img", "{\"prompt\": "), 422, "body");
        assertError(tiny.post("/sdapi/v1/txt2img", "[1, 2]"), 422, "body");
        assertError(tiny.post("/sdapi/v1/txt2img", "{\"steps\": \"many\"}"), 422, "steps");
        assertError(tiny.post("/sdapi/v1/txt2img", "{\"prompt\": 5}"), 422, "prompt");
        assertError(tiny.post("/sdapi/v1/txt2img", "{\"cfg_scale\": [7]}"), 422, "cfg_scale");
        assertError(tiny.post("/sdapi/v1/txt2img", "{\"width\": 33}"), 422, "width");
        assertError(tiny.post("/sdapi/v1/txt2img", "{\"override_settings\": 3}"), 422, "override_settings");
        assertError(tiny.post("/sdapi/v1/txt2img", "{\"sampler_name\": \"Heun 9000\"}"), 404, "sampler_name");
        assertError(tiny.post("/sdapi/v1/img2img", "{\"init_images\": [\"not base64!\"]}"), 422, "init_images");
        assertError(tiny.post("/sdapi/v1/img2img", "{\"init_images\": [\"aGVsbG8gd29ybGQ=\"]}"), 422, "init_images");
        assertError(tiny.post("/sdapi/v1/img2img", "{\"init_images\": []}"), 422, "init_images");
        HttpResponse<String> wrongType = tiny.post("/sdapi/v1/txt2img", "{\"steps\": \"many\"}");
        assertThat(TinyServer.json(wrongType).get("detail").get(0).get("loc").toString()).isEqualTo("[\"body\",\"steps\"]");
    }

    @Test
    void onlyJsonBodiesAndOnlyLoopbackHostNames() throws Exception {
        HttpResponse<String> form = tiny.client.send(tiny.request("/sdapi/v1/txt2img").header("Content-Type", "text/plain")
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"prompt\": \"x\"}")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(form.statusCode()).isEqualTo(415);
        assertThat(form.body()).contains("application/json");
        // A page whose site name was rebound to 127.0.0.1 still sends its own name as Host.
        try (Socket socket = new Socket("127.0.0.1", tiny.server.port())) {
            socket.getOutputStream().write("GET /sdapi/v1/progress HTTP/1.1\r\nHost: attacker.example:7860\r\nConnection: close\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(answer).startsWith("HTTP/1.1 403").contains("attacker.example");
        }
        try (Socket socket = new Socket("127.0.0.1", tiny.server.port())) {
            socket.getOutputStream().write("GET /sdapi/v1/progress HTTP/1.1\r\nHost: localhost:7860\r\nConnection: close\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            assertThat(new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8)).startsWith("HTTP/1.1 200");
        }
    }

    @Test
    void lorasAreListedAndNamedByPromptTagsInsideTheirFolderOnly() throws Exception {
        JsonNode loras = TinyServer.json(tiny.get("/sdapi/v1/loras"));
        assertThat(loras).hasSize(1);
        assertThat(loras.get(0).get("name").asText()).isEqualTo("tiny_lora");
        assertThat(loras.get(0).get("path").asText()).isEqualTo("tiny_lora.safetensors");
        assertThat(tiny.post("/sdapi/v1/refresh-loras", "").statusCode()).isEqualTo(200);
        String base = TinyServer.json(tiny.post("/sdapi/v1/txt2img", "{\"prompt\": \"a cat\", " + SMALL + ", \"seed\": 5}"))
                .get("images").get(0).asText();
        HttpResponse<String> withLora = tiny.post("/sdapi/v1/txt2img", "{\"prompt\": \"a cat <lora:tiny_lora:1>\", " + SMALL + ", \"seed\": 5}");
        assertThat(withLora.statusCode()).as(withLora.body()).isEqualTo(200);
        assertThat(TinyServer.json(withLora).get("images").get(0).asText()).isNotEqualTo(base);
        for (String name : new String[]{"../../../../etc/passwd", "missing", "/etc/hostname"}) {
            HttpResponse<String> r = tiny.post("/sdapi/v1/txt2img", "{\"prompt\": \"a <lora:" + name + ":1>\", " + SMALL + "}");
            assertThat(r.statusCode()).as(r.body()).isEqualTo(404);
            assertThat(r.body()).contains("no LoRA named").doesNotContain("tiny-sd-lora");
        }
    }

    @Test
    void hugeBodyIs413() throws Exception {
        try (TinyServer small = new TinyServer(2, null, new io.jdiffusion.server.api.RequestLimits(64 << 10, 1 << 20, 1 << 20, 4, 50))) {
            String big = "{\"prompt\": \"" + "a".repeat(200_000) + "\"}";
            HttpResponse<String> r = small.post("/sdapi/v1/txt2img", big);
            assertThat(r.statusCode()).isEqualTo(413);
            assertThat(r.body()).contains("exceeds the limit of 65536 bytes");
            assertThat(small.get("/sdapi/v1/progress").statusCode()).isEqualTo(200);
        }
    }

    @Test
    void openAiGenerations() throws Exception {
        HttpResponse<String> r = tiny.post("/v1/images/generations", "{\"prompt\": \"a boat\", \"n\": 2, \"size\": \"32x32\", "
                + "\"response_format\": \"b64_json\", \"model\": \"dall-e-3\"}");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonNode body = TinyServer.json(r);
        assertThat(body.get("created").asLong()).isPositive();
        assertThat(body.get("data")).hasSize(2);
        assertThat(png(body.get("data").get(1).get("b64_json").asText()).getWidth()).isEqualTo(32);
        HttpResponse<String> url = tiny.post("/v1/images/generations", "{\"prompt\": \"a\", \"response_format\": \"url\"}");
        assertThat(url.statusCode()).isEqualTo(400);
        assertThat(TinyServer.json(url).get("error").get("param").asText()).isEqualTo("response_format");
        assertThat(TinyServer.json(tiny.post("/v1/images/generations", "{\"prompt\": \"a\", \"size\": \"big\"}"))
                .get("error").get("param").asText()).isEqualTo("size");
    }

    @Test
    void listsAndOptions() throws Exception {
        JsonNode samplers = TinyServer.json(tiny.get("/sdapi/v1/samplers"));
        assertThat(samplers.findValuesAsText("name")).contains("Euler a", "DPM++ 2M", "DDIM");
        JsonNode schedulers = TinyServer.json(tiny.get("/sdapi/v1/schedulers"));
        assertThat(schedulers.findValuesAsText("name")).contains("automatic", "karras");
        JsonNode models = TinyServer.json(tiny.get("/sdapi/v1/sd-models"));
        assertThat(models.get(0).get("title").asText()).isEqualTo("model");
        JsonNode options = TinyServer.json(tiny.get("/sdapi/v1/options"));
        assertThat(options.get("sd_model_checkpoint").asText()).isEqualTo("model");
        assertThat(tiny.post("/sdapi/v1/options", "{\"sd_model_checkpoint\": \"model\"}").statusCode()).isEqualTo(200);
        assertError(tiny.post("/sdapi/v1/options", "{\"sd_model_checkpoint\": \"../../etc/passwd\"}"), 404, "sd_model_checkpoint");
        JsonNode memory = TinyServer.json(tiny.get("/sdapi/v1/memory"));
        assertThat(memory.get("ram").get("total").asLong()).isPositive();
        assertThat(memory.get("cuda").get("active").get("peak").asLong()).isEqualTo(tiny.backend.peakDeviceBytes());
        assertThat(memory.get("cuda").get("device").asText()).startsWith("cpu");
        assertThat(tiny.get("/sdapi/v1/nothing-here").statusCode()).isEqualTo(404);
    }

    @Test
    void pageAndAssetsAreServedFromTheJar() throws Exception {
        HttpResponse<String> page = tiny.get("/");
        assertThat(page.statusCode()).isEqualTo(200);
        assertThat(page.headers().firstValue("Content-Type")).hasValue("text/html; charset=utf-8");
        assertThat(page.body()).contains("<script src=\"/static/app.js\">").doesNotContain("http://", "https://");
        assertThat(tiny.get("/static/app.js").body()).contains("/sdapi/v1/txt2img");
        assertThat(tiny.get("/static/style.css").statusCode()).isEqualTo(200);
        assertThat(tiny.get("/static/..%2F..%2Fpom.xml").statusCode()).isEqualTo(404);
        assertThat(tiny.get("/static/ImageServer.class").statusCode()).isEqualTo(404);
    }

    @Test
    void interruptMidJobAnswersWithThePartialImage() throws Exception {
        CompletableFuture<HttpResponse<String>> job = tiny.client.sendAsync(tiny.request("/sdapi/v1/txt2img")
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"prompt\": \"long\", \"width\": 32, \"height\": 32, "
                        + "\"steps\": 400, \"n_iter\": 3, \"seed\": 3}")).build(), HttpResponse.BodyHandlers.ofString());
        JsonNode progress = waitForStep(1);
        assertThat(progress.get("state").get("job").asText()).isEqualTo("txt2img");
        assertThat(progress.get("state").get("sampling_steps").asInt()).isEqualTo(400);
        assertThat(progress.get("current_image").asText()).isNotEmpty();
        assertThat(png(progress.get("current_image").asText()).getWidth()).isEqualTo(16);
        assertThat(tiny.post("/sdapi/v1/interrupt", "").statusCode()).isEqualTo(200);
        HttpResponse<String> r = job.get(60, TimeUnit.SECONDS);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonNode body = TinyServer.json(r);
        assertThat(body.get("images")).hasSize(1);
        JsonNode info = JsonFields.mapper().readTree(body.get("info").asText());
        assertThat(info.get("interrupted").asBoolean()).isTrue();
        assertThat(TinyServer.json(tiny.get("/sdapi/v1/progress")).get("state").get("job_count").asInt()).isZero();
    }

    @Test
    void skipEndsTheCurrentImageOnly() throws Exception {
        CompletableFuture<HttpResponse<String>> job = tiny.client.sendAsync(tiny.request("/sdapi/v1/txt2img")
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"prompt\": \"long\", \"width\": 32, \"height\": 32, "
                        + "\"steps\": 400, \"n_iter\": 2, \"seed\": 3}")).build(), HttpResponse.BodyHandlers.ofString());
        waitForStep(1);
        assertThat(tiny.post("/sdapi/v1/skip", "").statusCode()).isEqualTo(200);
        waitFor(p -> p.get("state").get("job_no").asInt() == 1 && p.get("state").get("sampling_step").asInt() >= 1);
        tiny.post("/sdapi/v1/interrupt", "");
        JsonNode body = TinyServer.json(job.get(60, TimeUnit.SECONDS));
        assertThat(body.get("images")).hasSize(2);
    }

    @Test
    void outOfMemoryFailsTheJobAndTheServerKeepsServing() throws Exception {
        HttpResponse<String> r = tiny.post("/sdapi/v1/txt2img", "{\"prompt\": \"" + TinyServer.OOM_PROMPT + "\", " + SMALL + "}");
        assertThat(r.statusCode()).isEqualTo(500);
        assertThat(TinyServer.json(r).get("error").asText()).isEqualTo("OutOfMemoryError");
        assertThat(TinyServer.json(r).get("errors").asText()).contains("out of memory while generating");
        assertThat(tiny.post("/sdapi/v1/txt2img", "{\"prompt\": \"after\", " + SMALL + "}").statusCode()).isEqualTo(200);
    }

    @Test
    void queueFullIs503WithRetryAfterAndDisconnectedClientsLeaveTheQueue() throws Exception {
        try (TinyServer one = new TinyServer(1)) {
            String slow = "{\"prompt\": \"slow\", \"width\": 32, \"height\": 32, \"steps\": 400}";
            CompletableFuture<HttpResponse<String>> running = one.client.sendAsync(one.request("/sdapi/v1/txt2img")
                    .POST(java.net.http.HttpRequest.BodyPublishers.ofString(slow)).build(), HttpResponse.BodyHandlers.ofString());
            waitFor(one, p -> p.get("state").get("sampling_step").asInt() >= 1);
            // A raw socket that sends a request and hangs up: its queued job must leave the queue.
            try (Socket socket = new Socket("127.0.0.1", one.server.port())) {
                byte[] body = slow.getBytes(StandardCharsets.UTF_8);
                OutputStream out = socket.getOutputStream();
                out.write(("POST /sdapi/v1/txt2img HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: "
                        + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                out.write(body);
                out.flush();
                waitUntil(() -> one.server.queue().waitingJobs() == 1);
                HttpResponse<String> refused = one.post("/sdapi/v1/txt2img", slow);
                assertThat(refused.statusCode()).isEqualTo(503);
                assertThat(refused.headers().firstValue("Retry-After")).hasValueSatisfying(v -> assertThat(Integer.parseInt(v)).isPositive());
            }
            waitUntil(() -> one.server.queue().waitingJobs() == 0);
            one.post("/sdapi/v1/interrupt", "");
            assertThat(running.get(60, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
            assertThat(one.post("/sdapi/v1/txt2img", "{\"prompt\": \"next\", " + SMALL + "}").statusCode()).isEqualTo(200);
        }
    }

    @Test
    void apiKeyGuardsEveryRouteButThePage() throws Exception {
        try (TinyServer keyed = new TinyServer(2, "s3cret", io.jdiffusion.server.api.RequestLimits.DEFAULTS)) {
            var noKey = java.net.http.HttpClient.newHttpClient();
            for (String path : new String[]{"/sdapi/v1/progress", "/sdapi/v1/samplers", "/sdapi/v1/sd-models", "/sdapi/v1/memory", "/sdapi/v1/options"}) {
                HttpResponse<String> r = noKey.send(java.net.http.HttpRequest.newBuilder(keyed.uri(path)).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(r.statusCode()).as(path).isEqualTo(401);
            }
            HttpResponse<String> post = noKey.send(java.net.http.HttpRequest.newBuilder(keyed.uri("/sdapi/v1/txt2img"))
                    .header("Authorization", "Bearer wrong").POST(java.net.http.HttpRequest.BodyPublishers.ofString("{}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(post.statusCode()).isEqualTo(401);
            HttpResponse<String> openAi = noKey.send(java.net.http.HttpRequest.newBuilder(keyed.uri("/v1/images/generations"))
                    .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{}")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(openAi.statusCode()).isEqualTo(401);
            assertThat(noKey.send(java.net.http.HttpRequest.newBuilder(keyed.uri("/")).build(), HttpResponse.BodyHandlers.ofString())
                    .statusCode()).isEqualTo(200);
            assertThat(noKey.send(java.net.http.HttpRequest.newBuilder(keyed.uri("/static/app.js")).build(), HttpResponse.BodyHandlers.ofString())
                    .statusCode()).isEqualTo(200);
            assertThat(keyed.get("/sdapi/v1/progress").statusCode()).isEqualTo(200);
            assertThat(keyed.post("/sdapi/v1/txt2img", "{\"prompt\": \"k\", " + SMALL + "}").statusCode()).isEqualTo(200);
        }
    }

    private static JsonNode waitForStep(int step) throws Exception {
        return waitFor(p -> p.get("state").get("sampling_step").asInt() >= step && !p.get("current_image").isNull());
    }

    private static JsonNode waitFor(java.util.function.Predicate<JsonNode> condition) throws Exception {
        return waitFor(tiny, condition);
    }

    private static JsonNode waitFor(TinyServer server, java.util.function.Predicate<JsonNode> condition) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (System.nanoTime() < deadline) {
            JsonNode p = TinyServer.json(server.get("/sdapi/v1/progress"));
            if (condition.test(p)) {
                return p;
            }
            Thread.sleep(20);
        }
        throw new AssertionError("progress never reached the expected state");
    }

    private static void waitUntil(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("condition not reached in 30 s");
            }
            Thread.sleep(10);
        }
    }

    private static void assertError(HttpResponse<String> r, int status, String field) throws IOException {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
        assertThat(r.body()).contains(field);
    }

    static BufferedImage png(String base64) throws IOException {
        try (InputStream in = new ByteArrayInputStream(Base64.getDecoder().decode(base64))) {
            BufferedImage image = ImageIO.read(in);
            assertThat(image).isNotNull();
            return image;
        }
    }

    private static byte[] pngBytes(BufferedImage image) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(image, "png", out);
        return out.toByteArray();
    }
}
