package io.jdiffusion.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jdiffusion.core.Numerics;
import io.jdiffusion.core.safetensors.SafetensorsFile;
import io.jdiffusion.core.io.FileHashes;
import io.jdiffusion.models.pipeline.PngText;
import io.jdiffusion.models.sd.CheckpointFamily;
import io.jdiffusion.models.sd.LdmCheckpointWriter;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.testdata.TestFiles;
import io.jdiffusion.testdata.TinySd;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.security.MessageDigest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.offset;

/** The command line as a user meets it: exit codes, one-line errors, whole output files, PNG metadata. */
class CliTest {
    @TempDir
    Path dir;

    record Run(int exitCode, String out, String err) {
    }

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void versionHelpAndBackends() {
        assertThat(run("--version").out()).startsWith("jdiffusion ");
        Run help = run("--help");
        assertThat(help.exitCode()).isZero();
        assertThat(help.out()).contains("generate", "serve", "bench", "backends");
        Run backends = run("backends");
        assertThat(backends.exitCode()).isZero();
        assertThat(backends.out()).containsPattern("(?m)^cpu\\s+available\\s+\\d+ threads");
        assertThat(backends.out()).containsPattern("(?m)^tornado\\s+(available|unavailable)");
    }

    @Test
    void serveDocumentsItsOptionsAndRefusesBadOnesBeforeLoading() {
        Run help = run("serve", "--help");
        assertThat(help.exitCode()).isZero();
        assertThat(help.out()).contains("--host", "127.0.0.1", "--port", "7860", "--queue-size", "16", "--api-key", "--model",
                "--backend", "--precision");
        Run queue = run("serve", "--queue-size", "0");
        assertThat(queue.exitCode()).isEqualTo(1);
        assertThat(queue.err()).contains("queue size must be at least 1");
        Run port = run("serve", "--port", "70000");
        assertThat(port.exitCode()).isEqualTo(1);
        assertThat(port.err()).contains("port must be in [0, 65535]");
        assertThat(help.out()).contains("--model-dir");
        Run noFolder = run("serve", "--model-dir", dir.resolve("no-such-folder").toString());
        assertThat(noFolder.exitCode()).isEqualTo(1);
        assertThat(noFolder.err()).contains("--model-dir must be a folder");
        Run emptyFolder = run("serve", "--model-dir", dir.toString());
        assertThat(emptyFolder.exitCode()).isEqualTo(1);
        assertThat(emptyFolder.err()).contains("--model-dir holds no .safetensors file or diffusers folder");
    }

    @Test
    void generateWritesAPngWithParametersAndLatentsThatMatchDiffusers() throws IOException {
        Path png = dir.resolve("out.png");
        Path latents = dir.resolve("latents.safetensors");
        Run r = run("generate", "--prompt", "a photograph of an astronaut riding a horse", "--seed", "7",
                "--width", "32", "--height", "32", "--output", png.toString(), "--save-latents", latents.toString(),
                "--backend", "cpu");
        assertThat(r.exitCode()).as(r.err()).isZero();
        // PNDM: 21 calls for 20 steps, said so; the CPU backend has no device memory to report
        assertThat(r.out()).contains("seed 7").contains("UNet 20 steps, 21 calls (PNDM's first step calls the UNet twice)")
                .containsPattern("first image \\d+\\.\\d\\d s after process start").doesNotContain("device");
        assertThat(r.err()).contains("sampler pndm (PLMS), 20 steps, guidance 7.5");
        BufferedImage image = ImageIO.read(png.toFile());
        assertThat(image.getWidth()).isEqualTo(32);
        assertThat(image.getHeight()).isEqualTo(32);
        assertThat(pngText(png, "parameters")).isEqualTo("a photograph of an astronaut riding a horse\n"
                + "Steps: 20, Sampler: PLMS, CFG scale: 7.5, Seed: 7, Size: 32x32, Model: model");
        try (SafetensorsFile mine = SafetensorsFile.open(latents);
             SafetensorsFile golden = SafetensorsFile.open(TinySd.root().resolve("tiny-sd/golden-extra/pipeline_extra.safetensors"))) {
            double err = Numerics.relativeL2(mine.tensor("latents"), golden.tensor("seed_pndm.final_latents"));
            System.out.printf("CLI seed 7 pndm latents vs diffusers: rel L2 %.3g%n", err);
            assertThat(err).isLessThanOrEqualTo(1e-3);
        }
        assertThat(files()).containsExactlyInAnyOrder("out.png", "latents.safetensors");
    }

    /** The tiny model, 2 steps at 16x16 with seed 3 on the CPU backend, to {@code png}, with {@code extra} options. */
    private static Run quickGenerate(Path png, String... extra) {
        List<String> args = new ArrayList<>(List.of("generate", "-p", "x", "--seed", "3", "--steps", "2", "-W", "16", "-H", "16",
                "-o", png.toString(), "--backend", "cpu"));
        args.addAll(List.of(extra));
        return run(args.toArray(String[]::new));
    }

    @Test
    void anF16RequestTheBackendComputesInF32IsSaidOnce() {
        Path png = dir.resolve("h.png");
        Run r = quickGenerate(png, "--precision", "f16");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.err()).containsOnlyOnce("jdiffusion: --precision f16: backend cpu computed in f32");
        assertThat(files()).containsExactly("h.png");
    }

    @Test
    void aMemoryBudgetBelowTheModelStagesItsNetworksAndABadOneIsRefusedBeforeLoading() {
        Path png = dir.resolve("m.png");
        Run r = quickGenerate(png, "--memory-budget", "1m");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.err()).contains("jdiffusion: memory: staged", "budget 0.0 GiB", "derived weights <= 0 MiB per network");
        assertThat(r.out()).containsPattern("weights 0 MiB, .*backend_peak [1-9]");
        assertThat(files()).containsExactly("m.png");
        Run warm = quickGenerate(png, "--memory-budget", "1.5G");
        assertThat(warm.err()).contains("jdiffusion: memory: warm (budget 1.5 GiB");
        Run bad = run("generate", "-p", "x", "-o", dir.resolve("n.png").toString(), "--memory-budget", "3x");
        assertThat(bad.exitCode()).isEqualTo(1);
        assertThat(bad.err()).contains("--memory-budget must be auto or a size with its unit (e.g. 3g, 4500m), got '3x'");
        assertThat(files()).containsExactly("m.png");
        Run badWeights = run("bench", "--random-weights", "f8", "--steps", "0");
        assertThat(badWeights.exitCode()).isEqualTo(1);
        assertThat(badWeights.err()).contains("--random-weights must be f32, f16 or bf16, got 'f8'");
    }

    @Test
    void batchCountWritesOneFilePerSeed() {
        Path png = dir.resolve("b.png");
        Run r = run("generate", "-p", "x", "--seed", "100", "--batch-count", "2", "--steps", "2", "-W", "16", "-H", "16",
                "-o", png.toString(), "--sampler", "euler_a");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(files()).containsExactlyInAnyOrder("b-100.png", "b-101.png");
    }

    /**
     * generate --json: stdout is one JSON object (the lines for people go to stderr) with the preparation, the
     * first image's time from process start and each image's stages, under bench --json's names where the figure
     * is the same one.
     */
    @Test
    void generateJsonReportsPreparationAndTheFirstImageUnderBenchsNames() throws IOException {
        Path png = dir.resolve("j.png");
        double before = RunSummary.sinceProcessStartMs();
        Run r = run("generate", "-p", "x", "--seed", "100", "--batch-count", "2", "--steps", "2", "-W", "16", "-H", "16",
                "-o", png.toString(), "--sampler", "euler", "--backend", "cpu", "--json");
        double after = RunSummary.sinceProcessStartMs();
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out().strip()).doesNotContain("\n");
        JsonNode o = new ObjectMapper().readTree(r.out());
        assertThat(o.isObject()).as(r.out()).isTrue();
        assertThat(r.err()).contains("seed 100", "seed 101", "preparation");
        assertThat(o.get("backend").asText()).isEqualTo("cpu");
        assertThat(o.get("precision").asText()).isEqualTo("f32");
        assertThat(o.get("steps").asInt()).isEqualTo(2);
        assertThat(o.get("sampler").asText()).isEqualTo("euler");
        assertThat(o.get("first_image_since_process_start_ms").asDouble()).isBetween(before, after);
        assertThat(o.get("load_ms").asDouble()).isPositive();
        JsonNode images = o.get("images");
        assertThat(images).hasSize(2);
        double preparation = 0;
        for (int i = 0; i < 2; i++) {
            JsonNode image = images.get(i);
            assertThat(image.get("seed").asLong()).isEqualTo(100 + i);
            assertThat(image.get("file").asText()).endsWith("j-" + (100 + i) + ".png");
            assertThat(image.get("unet_steps").asInt()).isEqualTo(2);
            assertThat(image.get("unet_calls").asInt()).isEqualTo(2);
            assertThat(image.get("unet_ms").asDouble()).isCloseTo(image.get("unet_total_ms").asDouble() / 2, offset(1e-9));
            double stages = image.get("preparation_ms").asDouble() + image.get("text_encoder_ms").asDouble()
                    + image.get("unet_total_ms").asDouble() + image.get("vae_decode_ms").asDouble();
            assertThat(image.get("total_ms").asDouble()).isGreaterThanOrEqualTo(stages * 0.999);
            preparation += image.get("preparation_ms").asDouble();
        }
        // the first image compiles (the CPU backend packs its weights); the second, same shapes, reuses that
        assertThat(images.get(0).get("preparation_ms").asDouble()).isGreaterThan(images.get(1).get("preparation_ms").asDouble());
        assertThat(o.get("preparation_ms").asDouble()).isCloseTo(preparation, offset(1e-6));
        assertThat(o.get("peak_rss_bytes").asLong()).isPositive();
        assertThat(o.has("peak_device_bytes")).as("the CPU backend has no device memory").isFalse();
        assertThat(files()).containsExactlyInAnyOrder("j-100.png", "j-101.png");

        Run bench = run("bench", "--model", TinySd.modelDir().toString(), "--backend", "cpu", "-W", "16", "-H", "16", "--steps", "1",
                "--warmup", "0", "--iterations", "1", "--json");
        assertThat(bench.exitCode()).as(bench.err()).isZero();
        JsonNode b = new ObjectMapper().readTree(bench.out());
        for (String field : List.of("model", "backend", "device", "precision", "precision_used", "width", "height", "steps",
                "vae_tiling", "load_ms", "preparation_ms", "first_image_since_process_start_ms", "peak_rss_bytes",
                "peak_heap_bytes", "peak_offheap_bytes", "memory_bytes")) {
            assertThat(o.has(field)).as("generate --json has %s", field).isTrue();
            assertThat(b.has(field)).as("bench --json has %s", field).isTrue();
            assertThat(o.get(field).getNodeType()).as(field).isEqualTo(b.get(field).getNodeType());
        }
    }

    /**
     * The bench warms each stage beyond its cold call for --warmup-seconds (at least one more call), and not at all with
     * --warmup 0; the JSON says how many untimed calls each stage had, the log each timed call in call order (a drift
     * over the calls shows there). A bad value is one error.
     */
    @Test
    void benchWarmsEachStageForTheWarmupSeconds() throws IOException {
        String model = TinySd.modelDir().toString();
        Run warm = run("bench", "--model", model, "--backend", "cpu", "-W", "16", "-H", "16", "--steps", "0", "--warmup", "1",
                "--warmup-seconds", "0.2", "--iterations", "3", "--json");
        assertThat(warm.exitCode()).as(warm.err()).isZero();
        assertThat(warm.err()).containsPattern("UNet call +first [0-9.]+ ms, [0-9]+ untimed calls, median [0-9.]+ ms, in call order \\[[0-9.]+, [0-9.]+, [0-9.]+\\]");
        JsonNode warmCalls = new ObjectMapper().readTree(warm.out()).get("warmup_calls");
        Run cold = run("bench", "--model", model, "--backend", "cpu", "-W", "16", "-H", "16", "--steps", "0", "--warmup", "0",
                "--warmup-seconds", "30", "--iterations", "1", "--json");
        assertThat(cold.exitCode()).as(cold.err()).isZero();
        JsonNode coldCalls = new ObjectMapper().readTree(cold.out()).get("warmup_calls");
        for (String stage : List.of("text", "unet", "vae")) {
            assertThat(warmCalls.get(stage).asInt()).as("%s, --warmup 1 --warmup-seconds 0.2", stage).isGreaterThan(1);
            assertThat(coldCalls.get(stage).asInt()).as("%s, --warmup 0", stage).isEqualTo(1);
        }
        expectError("--warmup-seconds from 0 to 3600", "bench", "--warmup-seconds", "-1");
        expectError("--warmup-seconds from 0 to 3600", "bench", "--warmup-seconds", "NaN");
    }

    /** Sampler names come from the registry: help lists them, A1111 labels work and land in the PNG. */
    @Test
    void samplersByAnyNameWithTheirSchedule() throws IOException {
        Run help = run("generate", "--help");
        assertThat(help.out().replaceAll("\\s+", " ")).contains("heun, dpm2, dpm2_a, dpmpp_2s_a, dpmpp_2m, dpmpp_2m_sde, lms, unipc, ddpm, lcm")
                .contains("default, karras, exponential, sgm_uniform");
        Path png = dir.resolve("k.png");
        Run r = run("generate", "-p", "x", "--seed", "3", "--steps", "2", "-W", "16", "-H", "16", "-o", png.toString(),
                "--sampler", "DPM++ 2M SDE Karras");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(pngText(png, "parameters")).contains("Sampler: DPM++ 2M SDE Karras");
        Path heun = dir.resolve("h2.png");
        r = run("generate", "-p", "x", "--seed", "3", "--steps", "2", "-W", "16", "-H", "16", "-o", heun.toString(),
                "--sampler", "heun", "--schedule", "exponential");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("UNet 2 steps, 3 calls");
        assertThat(pngText(heun, "parameters")).contains("Sampler: Heun Exponential");
        Path out = dir.resolve("never.png");
        expectError("conflicting schedules: karras and exponential", "generate", "-p", "x", "--sampler", "DPM++ 2M Karras",
                "--schedule", "exponential", "-o", out.toString());
        expectError("the karras schedule does not apply to ddim", "generate", "-p", "x", "--sampler", "ddim", "--karras",
                "-o", out.toString());
        expectError("unknown schedule 'beta'", "generate", "-p", "x", "--schedule", "beta", "-o", out.toString());
    }

    /** --mask with --init-image: inpainting, with Denoising strength and Mask blur in the PNG; bad masks are one line. */
    @Test
    void inpaintingAndItsBadInputs() throws IOException {
        Path init = dir.resolve("init.png");
        ImageIO.write(new BufferedImage(32, 32, BufferedImage.TYPE_INT_RGB), "png", init.toFile());
        BufferedImage maskImage = new BufferedImage(32, 32, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 8; y < 24; y++) {
            for (int x = 8; x < 24; x++) {
                maskImage.getRaster().setSample(x, y, 0, 255);
            }
        }
        Path mask = dir.resolve("mask.png");
        ImageIO.write(maskImage, "png", mask.toFile());
        Path png = dir.resolve("inpainted.png");
        Run r = run("generate", "-p", "x", "--seed", "1", "--steps", "2", "-W", "32", "-H", "32", "--init-image", init.toString(),
                "--mask", mask.toString(), "--mask-blur", "2", "--strength", "0.75", "--sampler", "euler", "-o", png.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(pngText(png, "parameters")).contains("Denoising strength: 0.75").contains("Mask blur: 2");

        Path out = dir.resolve("never.png");
        Path small = dir.resolve("small.png");
        ImageIO.write(new BufferedImage(16, 32, BufferedImage.TYPE_BYTE_GRAY), "png", small.toFile());
        expectError("--mask " + small + " is 16x32 but --init-image " + init + " is 32x32: they must be the same size",
                "generate", "-p", "x", "--init-image", init.toString(), "--mask", small.toString(), "-o", out.toString());
        Path text = dir.resolve("mask.txt");
        Files.writeString(text, "not an image");
        expectError("--mask " + text + ": is not an image jdiffusion reads", "generate", "-p", "x", "--init-image",
                init.toString(), "--mask", text.toString(), "-o", out.toString());
        expectError("--mask needs --init-image", "generate", "-p", "x", "--mask", mask.toString(), "-o", out.toString());
        expectError("--mask-blur must be 0 or more", "generate", "-p", "x", "--init-image", init.toString(), "--mask",
                mask.toString(), "--mask-blur", "-1", "-o", out.toString());
        assertThat(out).doesNotExist();
    }

    /**
     * --inpaint-full-res: a 48x40 image repainted around its mask at 32x32; the PNG keeps 48x40, every pixel
     * outside the crop region is the input's, and the infotext has A1111's keys. Bad combinations are one line.
     */
    @Test
    void inpaintOnlyTheMaskedArea() throws IOException {
        BufferedImage initImage = new BufferedImage(48, 40, BufferedImage.TYPE_INT_RGB);
        BufferedImage maskImage = new BufferedImage(48, 40, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < 40; y++) {
            for (int x = 0; x < 48; x++) {
                initImage.setRGB(x, y, (x * 5) << 16 | (y * 6) << 8 | ((x * y) & 0xFF));
                maskImage.getRaster().setSample(x, y, 0, x >= 4 && x < 10 && y >= 28 && y < 34 ? 255 : 0);
            }
        }
        Path init = dir.resolve("init.png");
        Path mask = dir.resolve("mask.png");
        ImageIO.write(initImage, "png", init.toFile());
        ImageIO.write(maskImage, "png", mask.toFile());
        Path png = dir.resolve("only-masked.png");
        Run r = run("generate", "-p", "x", "--seed", "1", "--steps", "2", "-W", "32", "-H", "32", "--init-image", init.toString(),
                "--mask", mask.toString(), "--inpaint-full-res", "--inpaint-full-res-padding", "6", "--strength", "0.9",
                "--sampler", "euler", "-o", png.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(pngText(png, "parameters")).contains("Size: 32x32")
                .contains("Denoising strength: 0.9, Inpaint area: Only masked, Masked area padding: 6");
        BufferedImage out = ImageIO.read(png.toFile());
        assertThat(out.getWidth()).isEqualTo(48);
        assertThat(out.getHeight()).isEqualTo(40);
        // the mask's box [4, 10) x [28, 34) plus 6, clipped, is [0, 16) x [22, 40); grown to 1:1 and shifted back
        // inside the image it is [0, 18) x [22, 40)
        int changed = 0;
        for (int y = 0; y < 40; y++) {
            for (int x = 0; x < 48; x++) {
                boolean inRegion = x < 18 && y >= 22;
                if (!inRegion) {
                    assertThat(out.getRGB(x, y) & 0xFFFFFF).as("pixel %d,%d", x, y).isEqualTo(initImage.getRGB(x, y) & 0xFFFFFF);
                } else if (out.getRGB(x, y) != initImage.getRGB(x, y)) {
                    changed++;
                }
            }
        }
        assertThat(changed).as("repainted pixels").isGreaterThan(18);

        Path never = dir.resolve("never.png");
        BufferedImage black = new BufferedImage(48, 40, BufferedImage.TYPE_BYTE_GRAY);
        Path blank = dir.resolve("blank.png");
        ImageIO.write(black, "png", blank.toFile());
        expectError("the mask has no white pixels", "generate", "-p", "x", "--steps", "1", "-W", "32", "-H", "32", "--init-image",
                init.toString(), "--mask", blank.toString(), "--inpaint-full-res", "-o", never.toString());
        expectError("--inpaint-full-res needs --mask", "generate", "-p", "x", "--init-image", init.toString(),
                "--inpaint-full-res", "-o", never.toString());
        expectError("--inpaint-full-res-padding applies with --inpaint-full-res only", "generate", "-p", "x", "--init-image",
                init.toString(), "--mask", mask.toString(), "--inpaint-full-res-padding", "8", "-o", never.toString());
        expectError("--inpaint-full-res-padding must be 0 or more pixels", "generate", "-p", "x", "--init-image", init.toString(),
                "--mask", mask.toString(), "--inpaint-full-res", "--inpaint-full-res-padding", "-2", "-o", never.toString());
        assertThat(never).doesNotExist();
    }

    @Test
    void imageToImage() throws IOException {
        Path init = dir.resolve("init.png");
        ImageIO.write(new BufferedImage(40, 24, BufferedImage.TYPE_INT_RGB), "png", init.toFile());
        Path png = dir.resolve("i2i.png");
        Run r = run("generate", "-p", "x", "--seed", "1", "--steps", "4", "-W", "32", "-H", "32", "--init-image", init.toString(),
                "--strength", "0.5", "-o", png.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        // PNDM, 4 steps (5 calls), strength 0.5: diffusers starts at index 4 - int(4 * 0.5) = 2, so 3 calls.
        assertThat(r.out()).contains("VAE encode").contains("UNet 3 steps");
        assertThat(pngText(png, "parameters")).contains("Denoising strength: 0.5");
    }

    @Test
    void aSingleFileCheckpointNeedsOnlyATokenizerFolderAndThePngNamesItByHashAndName() throws Exception {
        Path models = Files.createDirectories(dir.resolve("models, v1: final"));
        Path file = models.resolve("tiny-ldm.safetensors");
        try (StableDiffusion tiny = StableDiffusion.load(TinySd.modelDir(), null)) {
            LdmCheckpointWriter.write(tiny, CheckpointFamily.SD1, file, Map.of());
        }
        Path config = Files.createDirectories(dir.resolve("config"));
        Files.createDirectories(config.resolve("tokenizer"));
        for (String f : List.of("vocab.json", "merges.txt")) {
            Files.copy(TinySd.modelDir().resolve("tokenizer").resolve(f), config.resolve("tokenizer").resolve(f));
        }
        String hash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file))).substring(0, 10);
        System.setProperty(FileHashes.CACHE_DIR_PROPERTY, dir.resolve("cache").toString());
        try {
            for (int run = 0; run < 2; run++) {
                Path png = dir.resolve("single-" + run + ".png");
                Run r = run("generate", "--model", file.toString(), "--config", config.toString(), "--prompt", "x",
                        "--seed", "1", "--steps", "1", "-W", "16", "-H", "16", "--output", png.toString(), "--backend", "cpu");
                assertThat(r.exitCode()).as(r.err()).isZero();
                assertThat(r.err()).contains("single file " + file).contains("tokenizer from " + config);
                // the file is hashed once; the second run finds the hash in the cache
                assertThat(r.err().contains("hashing tiny-ldm.safetensors")).isEqualTo(run == 0);
                String parameters = pngText(png, "parameters");
                assertThat(parameters).endsWith("Model hash: " + hash + ", Model: tiny-ldm").doesNotContain(dir.toString());
            }
        } finally {
            System.clearProperty(FileHashes.CACHE_DIR_PROPERTY);
        }
        expectError("unknown prediction type 'x0'", "generate", "-p", "x", "--model", file.toString(), "--prediction-type", "x0",
                "-o", dir.resolve("never.png").toString());
    }

    @Test
    void consoleFormats() {
        assertThat(ConsoleProgress.rate(3, 1_000_000_000L)).isEqualTo("3.0 it/s");
        assertThat(ConsoleProgress.rate(1, 3_200_000_000L)).isEqualTo("3.2 s/it");
        assertThat(ConsoleProgress.rate(2, 6_000_000_000L)).isEqualTo("3.0 s/it");
        assertThat(ConsoleProgress.rate(0, 1)).isEmpty();
        assertThat(RunSummary.stepsAndCalls(1, 1)).isEqualTo("1 step");
        assertThat(RunSummary.stepsAndCalls(20, 21)).isEqualTo("20 steps, 21 calls (PNDM's first step calls the UNet twice)");
        assertThat(CliErrors.describe(new IllegalStateException("cannot load x:\nunet weights from y do not fit:\n  missing (1): a\n  unexpected (1): b")))
                .isEqualTo("cannot load x: unet weights from y do not fit: missing (1): a; unexpected (1): b");
    }

    @Test
    void eachBadInputIsOneClearLineAndNoFile() throws IOException {
        Path out = dir.resolve("never.png");
        expectError("--steps must be in [1, 1000], got 0", "generate", "-p", "x", "--steps", "0", "-o", out.toString());
        expectError("unknown sampler 'dpm_fast'", "generate", "-p", "x", "--sampler", "dpm_fast", "-o", out.toString());
        expectError("not a multiple of 2", "generate", "-p", "x", "-W", "33", "-H", "32", "-o", out.toString());
        expectError("no such file or folder: " + dir.resolve("nomodel"), "generate", "-p", "x", "--model",
                dir.resolve("nomodel").toString(), "-o", out.toString());
        expectError("output folder does not exist", "generate", "-p", "x", "-o", dir.resolve("no/such/dir/x.png").toString());
        expectError("--strength must be in (0, 1]", "generate", "-p", "x", "--init-image", out.toString(), "--strength", "1.5",
                "-o", out.toString());
        expectError("unknown precision 'f8'", "generate", "-p", "x", "--precision", "f8", "-o", out.toString());
        expectError("no backend named 'gpu9'", "generate", "-p", "x", "--backend", "gpu9", "-W", "16", "-H", "16",
                "--steps", "1", "-o", out.toString());
        Path pickle = dir.resolve("model.ckpt");
        Files.writeString(pickle, "not really");
        expectError("pickle", "generate", "-p", "x", "--model", pickle.toString(), "-o", out.toString());
        Path corrupt = copyTinyModelWithCorruptUnet();
        expectError("diffusion_pytorch_model.safetensors", "generate", "-p", "x", "--model", corrupt.toString(),
                "-o", out.toString());
        Path readOnly = Files.createDirectory(dir.resolve("ro"));
        if (readOnly.toFile().setWritable(false) && !Files.isWritable(readOnly)) {
            expectError("not writable", "generate", "-p", "x", "-o", readOnly.resolve("x.png").toString());
        }
        readOnly.toFile().setWritable(true);
        assertThat(Files.exists(out)).isFalse();
    }

    private void expectError(String message, String... args) {
        Run r = run(args);
        assertThat(r.exitCode()).as(String.join(" ", args)).isNotZero();
        List<String> lines = r.err().lines().filter(l -> !l.isBlank()).toList();
        assertThat(lines).as(r.err()).anyMatch(l -> l.startsWith("jdiffusion: error: ") && l.contains(message));
        assertThat(lines.stream().filter(l -> l.startsWith("jdiffusion: error:"))).hasSize(1);
        assertThat(r.err()).doesNotContain("\tat ");
    }

    private Path copyTinyModelWithCorruptUnet() throws IOException {
        Path copy = TestFiles.copyTree(TinySd.modelDir(), dir.resolve("corrupt-model"));
        Path unet = copy.resolve("unet/diffusion_pytorch_model.safetensors");
        byte[] bytes = Files.readAllBytes(unet);
        Files.write(unet, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        return copy;
    }

    @Test
    void loraFromAFileAndATagAndItsInfotext() throws IOException {
        Path loras = TinySd.loraSetDir().resolve("lora");
        Path png = dir.resolve("l.png");
        Run r = run("generate", "-p", "a (horse:1.2) <lora:tiny_lora:0.8>", "--lora-dir", loras.toString(),
                "--lora", loras.resolve("tiny_lora.safetensors") + ":0.5", "--seed", "3", "--steps", "1", "-W", "16",
                "-H", "16", "-o", png.toString(), "--backend", "cpu");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(pngText(png, "parameters")).isEqualTo("a (horse:1.2) <lora:tiny_lora:0.8> <lora:tiny_lora:0.5>\n"
                + "Steps: 1, Sampler: PLMS, CFG scale: 7.5, Seed: 3, Size: 16x16, Model: model, "
                + "Lora hashes: \"tiny_lora: f4099662a973\"");
    }

    @Test
    void aBadLoraIsOneLineAndNoFile() throws IOException {
        Path bad = dir.resolve("bad.safetensors");
        try (io.jdiffusion.core.Tensor down = io.jdiffusion.core.Tensor.allocate(io.jdiffusion.core.Shape.of(4, 32), io.jdiffusion.core.DType.F32);
             io.jdiffusion.core.Tensor up = io.jdiffusion.core.Tensor.allocate(io.jdiffusion.core.Shape.of(32, 8), io.jdiffusion.core.DType.F32)) {
            String k = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q";
            io.jdiffusion.core.safetensors.SafetensorsWriter.write(bad, java.util.Map.of(k + ".lora_down.weight", down,
                    k + ".lora_up.weight", up));
        }
        Path png = dir.resolve("x.png");
        Run r = run("generate", "-p", "x", "--lora", bad.toString(), "--steps", "1", "-W", "16", "-H", "16",
                "-o", png.toString(), "--backend", "cpu");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err().lines().filter(l -> l.startsWith("jdiffusion: error:")).toList()).singleElement()
                .satisfies(l -> assertThat(l).contains("rank mismatch in lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q"));
        Run tag = run("generate", "-p", "x <lora:missing:1>", "-o", png.toString());
        assertThat(tag.exitCode()).isEqualTo(1);
        assertThat(tag.err()).contains("jdiffusion: error: the prompt asks for <lora:missing:1> but no LoRA folder is set (--lora-dir)");
        assertThat(files()).containsExactly("bad.safetensors");
    }

    private List<String> files() {
        try (Stream<Path> list = Files.list(dir)) {
            return new ArrayList<>(list.filter(Files::isRegularFile).map(p -> p.getFileName().toString()).toList());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** The value of the tEXt/iTXt chunk {@code keyword}. */
    static String pngText(Path png, String keyword) throws IOException {
        return PngText.read(png).get(keyword);
    }
}
