package io.jdiffusion.cli;

import io.jdiffusion.core.Numerics;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.core.safetensors.SafetensorsFile;
import io.jdiffusion.core.safetensors.SafetensorsWriter;
import io.jdiffusion.testdata.GoldenSet;
import io.jdiffusion.testdata.TestFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code jdiffusion generate} on the tiny SDXL model: the same flags as SD 1.x, SDXL's size conditioning, bad input. */
class CliSdxlTest {
    /** pipeline_euler_nonsquare's prompt, its brackets escaped: diffusers reads them as text, jdiffusion as A1111 emphasis. */
    private static final String PROMPT = "hello, world! \\(masterpiece:1.2\\), \\[best quality\\]; 'quoted' \"double\" it's we'll";

    @TempDir
    Path dir;

    /**
     * diffusers drew pipeline_euler_nonsquare's initial latents with torch.Generator().manual_seed(1235), as
     * {@code --seed 1235} does: the CLI's latents are diffusers' (with SDXL's default sampler, euler).
     */
    @Test
    void generateMatchesDiffusersNonSquareAndSavesLatents() throws IOException {
        Path png = dir.resolve("xl.png");
        Path latents = dir.resolve("xl.safetensors");
        CliTest.Run r = CliTest.run("generate", "--model", GoldenSet.TINY_SDXL.modelDir().toString(), "--prompt", PROMPT,
                "--negative-prompt", "blurry, low quality, watermark", "--seed", "1235", "--steps", "12",
                "--guidance-scale", "5", "--width", "48", "--height", "32", "--backend", "cpu", "--output", png.toString(),
                "--save-latents", latents.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.err()).contains("SDXL (diffusers folder").contains("48x32, sampler euler (Euler), 12 steps");
        BufferedImage image = ImageIO.read(png.toFile());
        assertThat(image.getWidth()).isEqualTo(48);
        assertThat(image.getHeight()).isEqualTo(32);
        try (SafetensorsFile mine = SafetensorsFile.open(latents);
             SafetensorsFile golden = GoldenSet.TINY_SDXL.golden("pipeline.safetensors")) {
            assertThat(mine.tensor("latents").shape().dims()).containsExactly(1, 4, 16, 24);
            double err = Numerics.relativeL2(mine.tensor("latents"), golden.tensor("pipeline_euler_nonsquare.final_latents"));
            System.out.printf("CLI SDXL seed 1235 euler latents vs diffusers: rel L2 %.3g%n", err);
            assertThat(err).isLessThanOrEqualTo(1e-4);
        }
    }

    @Test
    void sizeConditioningOptionsChangeTheImage() throws IOException {
        Path plain = dir.resolve("plain.safetensors");
        Path cropped = dir.resolve("cropped.safetensors");
        String model = GoldenSet.TINY_SDXL.modelDir().toString();
        for (Path out : List.of(plain, cropped)) {
            List<String> args = new java.util.ArrayList<>(List.of("generate", "--model", model, "-p", "x", "--seed", "2",
                    "--steps", "2", "-W", "32", "-H", "32", "-o", dir.resolve(out.getFileName() + ".png").toString(),
                    "--save-latents", out.toString()));
            if (out == cropped) {
                args.addAll(List.of("--original-size", "64x96", "--crop-top-left", "4,8", "--target-size", "32x32"));
            }
            CliTest.Run r = CliTest.run(args.toArray(String[]::new));
            assertThat(r.exitCode()).as(r.err()).isZero();
        }
        try (SafetensorsFile a = SafetensorsFile.open(plain); SafetensorsFile b = SafetensorsFile.open(cropped)) {
            // the tiny model's random add_embedding moves the latents little, but the time ids do reach the UNet
            assertThat(Numerics.relativeL2(a.tensor("latents"), b.tensor("latents"))).isGreaterThan(1e-7);
        }
        GenerateCommand command = new GenerateCommand();
        new picocli.CommandLine(command).parseArgs("-p", "x", "-o", "x.png", "--original-size", "64x96",
                "--crop-top-left", "4,8", "--target-size", "32x48");
        // (original h, original w, crop top, crop left, target h, target w), diffusers' add_time_ids order
        assertThat(command.sizeConditioning().timeIds(32, 48)).containsExactly(96, 64, 4, 8, 48, 32);
        GenerateCommand defaults = new GenerateCommand();
        new picocli.CommandLine(defaults).parseArgs("-p", "x", "-o", "x.png");
        assertThat(defaults.sizeConditioning().timeIds(48, 32)).containsExactly(32, 48, 0, 0, 32, 48);
    }

    @Test
    void badInputIsOneClearLine() throws IOException {
        String model = GoldenSet.TINY_SDXL.modelDir().toString();
        Path out = dir.resolve("never.png");
        expectError("not a multiple of 2", "generate", "--model", model, "-p", "x", "-W", "33", "-H", "32", "-o", out.toString());
        expectError("--crop-top-left must be two non-negative whole numbers as A,B, got '4x8'", "generate", "--model", model,
                "-p", "x", "--crop-top-left", "4x8", "-o", out.toString());
        Path half = dir.resolve("half");
        TestFiles.copyTree(GoldenSet.TINY_SDXL.modelDir(), half);
        TestFiles.deleteTree(half.resolve("text_encoder_2"));
        expectError("has no text_encoder_2/ folder", "generate", "--model", half.toString(), "-p", "x", "-o", out.toString());
        assertThat(Files.exists(out)).isFalse();
    }

    /**
     * An SDXL LoRA (kohya names for both text encoders and the UNet in LDM naming) through a prompt tag and
     * through --lora: both give the same latents, unlike the base model; weight 0 gives the base model's
     * latents bit for bit; the PNG keeps the tag and lists the file's A1111 hash.
     */
    @Test
    void loraTagsAndFilesApplyToSdxl() throws IOException {
        Path loras = Files.createDirectories(dir.resolve("loras"));
        Path lora = loras.resolve("xl_detail.safetensors");
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        pair(tensors, "lora_te1_text_model_encoder_layers_0_self_attn_q_proj", 32, 32, 4);
        pair(tensors, "lora_te2_text_model_encoder_layers_2_mlp_fc1", 59, 48, 4);
        pair(tensors, "lora_unet_input_blocks_3_1_transformer_blocks_1_attn2_to_k", 32, 80, 2);
        pair(tensors, "lora_unet_output_blocks_1_1_proj_out", 32, 32, 2);
        SafetensorsWriter.write(lora, tensors);
        tensors.values().forEach(Tensor::close);
        String model = GoldenSet.TINY_SDXL.modelDir().toString();
        Map<String, float[]> latents = new LinkedHashMap<>();
        Map<String, List<String>> runs = new LinkedHashMap<>();
        runs.put("base", List.of("-p", "a horse"));
        runs.put("tag", List.of("-p", "a horse <lora:xl_detail:0.8>", "--lora-dir", loras.toString()));
        runs.put("file", List.of("-p", "a horse", "--lora", lora + ":0.8"));
        runs.put("zero", List.of("-p", "a horse <lora:xl_detail:0>", "--lora-dir", loras.toString()));
        for (var run : runs.entrySet()) {
            Path saved = dir.resolve(run.getKey() + ".safetensors");
            List<String> args = new java.util.ArrayList<>(List.of("generate", "--model", model, "--seed", "4", "--steps", "2",
                    "-W", "32", "-H", "32", "--backend", "cpu", "-o", dir.resolve(run.getKey() + ".png").toString(),
                    "--save-latents", saved.toString()));
            args.addAll(run.getValue());
            CliTest.Run r = CliTest.run(args.toArray(String[]::new));
            assertThat(r.exitCode()).as(r.err()).isZero();
            try (SafetensorsFile f = SafetensorsFile.open(saved)) {
                latents.put(run.getKey(), f.tensor("latents").toFloatArray());
            }
        }
        assertThat(latents.get("file")).containsExactly(latents.get("tag"));
        assertThat(latents.get("zero")).containsExactly(latents.get("base"));
        assertThat(Numerics.relativeL2(latents.get("tag"), latents.get("base"))).isGreaterThan(1e-4);
        String hash = addnetHash(lora);
        for (String run : List.of("tag", "file")) {
            String parameters = CliTest.pngText(dir.resolve(run + ".png"), "parameters");
            assertThat(parameters).startsWith("a horse <lora:xl_detail:0.8>\n")
                    .endsWith("Lora hashes: \"xl_detail: " + hash + "\"");
        }
    }

    /** A kohya pair [rank, in] / [out, rank] with alpha = rank, values of a fixed pattern. */
    private static void pair(Map<String, Tensor> tensors, String module, int out, int in, int rank) {
        float[] down = new float[rank * in];
        float[] up = new float[out * rank];
        for (int i = 0; i < down.length; i++) {
            down[i] = (float) (0.5 * Math.sin(0.7 * i + out));
        }
        for (int i = 0; i < up.length; i++) {
            up[i] = (float) (0.5 * Math.cos(0.3 * i + in));
        }
        tensors.put(module + ".lora_down.weight", Tensor.ofFloats(Shape.of(rank, in), down));
        tensors.put(module + ".lora_up.weight", Tensor.ofFloats(Shape.of(out, rank), up));
        tensors.put(module + ".alpha", Tensor.ofFloats(Shape.of(), rank));
    }

    /** A1111's "addnet" LoRA hash: SHA-256 of the file after its header, first 12 hex digits. */
    private static String addnetHash(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        long header = java.nio.ByteBuffer.wrap(bytes, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        try {
            java.security.MessageDigest sha = java.security.MessageDigest.getInstance("SHA-256");
            sha.update(bytes, Math.toIntExact(8 + header), Math.toIntExact(bytes.length - 8 - header));
            return java.util.HexFormat.of().formatHex(sha.digest()).substring(0, 12);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void expectError(String message, String... args) {
        CliTest.Run r = CliTest.run(args);
        assertThat(r.exitCode()).as(String.join(" ", args)).isNotZero();
        List<String> lines = r.err().lines().filter(l -> l.startsWith("jdiffusion: error:")).toList();
        assertThat(lines).as(r.err()).singleElement().satisfies(l -> assertThat(l).contains(message));
        assertThat(r.err()).doesNotContain("\tat ");
    }
}
