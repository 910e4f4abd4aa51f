package io.jdiffusion.cli;

import io.jdiffusion.core.Numerics;
import io.jdiffusion.core.safetensors.SafetensorsFile;
import io.jdiffusion.testdata.GoldenSet;
import io.jdiffusion.testdata.TestFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

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

    private static void expectError(String message, String... args) {
        CliTest.Run r = CliTest.run(args);
        assertThat(r.exitCode()).as(String.join(" ", args)).isNotZero();
        List<String> lines = r.err().lines().filter(l -> l.startsWith("jdiffusion: error:")).toList();
        assertThat(lines).as(r.err()).singleElement().satisfies(l -> assertThat(l).contains(message));
        assertThat(r.err()).doesNotContain("\tat ");
    }
}
