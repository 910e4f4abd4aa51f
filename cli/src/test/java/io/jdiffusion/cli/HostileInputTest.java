package io.jdiffusion.cli;

import io.jdiffusion.testdata.TestFiles;
import io.jdiffusion.testdata.TinySd;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/** What a hostile-input probe of the command line tried, and what each attempt must get: one clear line, no output. */
class HostileInputTest {
    @TempDir
    Path dir;

    @Test
    void parseErrorsAreOneErrorLineAndAHintNotTheUsage() {
        for (String[] args : List.of(new String[]{"--steps", "abc"}, new String[]{"--seed", "abc"},
                new String[]{"--seed", "18446744073709551616"}, new String[]{"--no-such-option"})) {
            List<String> all = new ArrayList<>(List.of("generate", "-p", "x", "-o", dir.resolve("o.png").toString()));
            all.addAll(List.of(args));
            CliTest.Run r = CliTest.run(all.toArray(String[]::new));
            assertThat(r.exitCode()).as(String.join(" ", args)).isEqualTo(2);
            List<String> lines = r.err().lines().toList();
            assertThat(lines.getFirst()).as(r.err()).startsWith("jdiffusion: error: ").contains(args[0]);
            assertThat(lines).as(r.err()).hasSizeLessThanOrEqualTo(4).noneMatch(l -> l.contains("Usage:"));
            assertThat(lines.getLast()).isEqualTo("jdiffusion: see 'jdiffusion generate --help' for the options");
        }
    }

    @Test
    void limitsAreCheckedBeforeTheModelLoads() {
        expectError("--steps must be in [1, 1000], got 100000", "--steps", "100000");
        expectError("--width/--height: size 100000x0 has a side longer than the limit of 4096 pixels", "--width", "100000");
        expectError("--width/--height: size 4096x4096 has 16777216 pixels, more than the limit of 4194304", "-W", "4096", "-H", "4096");
        expectError("--strength applies to image-to-image only: give --init-image too", "--strength", "1.5");
        expectError("--prompt and --negative-prompt may have at most 10000 characters, got 10001", "-n", "x".repeat(10_001));
    }

    @Test
    void pndmAtAThousandStepsSaysWhyInsteadOfAnIndexError() {
        expectError("pndm: 1000 steps reach timestep 1000.0, outside the 1000 training timesteps", "--steps", "1000",
                "--sampler", "pndm", "-W", "16", "-H", "16");
    }

    @Test
    void aFifoOrDeviceAsOutputIsRefusedAndLeftAlone() throws Exception {
        Path fifo = dir.resolve("fifo.png");
        assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).isZero();
        CliTest.Run r = CliTest.run("generate", "-p", "x", "-W", "16", "-H", "16", "-o", fifo.toString());
        assertThat(r.err()).contains("jdiffusion: error: output " + fifo + " is not a regular file (a device, FIFO or socket); refusing to replace it");
        assertThat(Files.isRegularFile(fifo, LinkOption.NOFOLLOW_LINKS)).isFalse();
        assertThat(Files.exists(fifo, LinkOption.NOFOLLOW_LINKS)).isTrue();
    }

    @Test
    void aSymlinkOutputIsReplacedAndItsTargetLeftAsItWas() throws Exception {
        Path target = Files.writeString(dir.resolve("elsewhere.txt"), "keep me");
        Path link = Files.createSymbolicLink(dir.resolve("out.png"), target);
        CliTest.Run r = CliTest.run("generate", "-p", "x", "-W", "16", "-H", "16", "--steps", "2", "--seed", "1", "-o", link.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(Files.isSymbolicLink(link)).isFalse();
        assertThat(Files.readString(target)).isEqualTo("keep me");
        // not a terminal: plain progress lines, no carriage-return frames
        assertThat(r.err()).doesNotContain("\r").contains("jdiffusion: seed 1: 2/2 steps");
    }

    @Test
    void corruptTokenizerAndNonFileWeightsAreNamed() throws IOException {
        Path model = copyTinyModel();
        Files.write(model.resolve("tokenizer/merges.txt"), new byte[]{'#', '\n', (byte) 0xC3, '\n'});
        expectError(model.resolve("tokenizer/merges.txt") + ": is not valid UTF-8 text", "--model", model.toString(), "-W", "16", "-H", "16");
        Path copy = copyTinyModel();
        Path weights = copy.resolve("text_encoder/model.safetensors");
        Files.delete(weights);
        Files.createDirectory(weights);
        expectError(weights + ": is a directory, not a file", "--model", copy.toString(), "-W", "16", "-H", "16");
        Files.delete(weights);
        Files.createSymbolicLink(weights, weights.getFileName());
        expectError(weights + ": is a symbolic link loop", "--model", copy.toString(), "-W", "16", "-H", "16");
    }

    /** Ctrl-C mid-generation: exit code 130, and neither the PNG nor a temporary file is left behind. */
    @Test
    void sigintLeavesNoOutputAndExits130() throws Exception {
        assumeFalse(sigintIgnored(), "SIGINT is ignored in this build's process (a background job of a shell), and a "
                + "child inherits that, so it cannot be interrupted");
        Path out = dir.resolve("interrupted.png");
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "generate", "-p", "x", "-W", "32", "-H", "32", "--steps", "999", "--sampler", "ddim", "--seed", "1",
                "--backend", "cpu", "-o", out.toString()));
        Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
        StringBuilder log = new StringBuilder();
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = lines.readLine()) != null) {
                log.append(line).append('\n');
                if (line.contains(" steps, ")) {
                    break; // generating
                }
            }
            assertThat(log).as("the child never started generating").contains(" steps, ");
            assertThat(new ProcessBuilder("kill", "-INT", Long.toString(child.pid())).start().waitFor()).isZero();
            lines.transferTo(java.io.Writer.nullWriter());
        }
        assertThat(child.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(child.exitValue()).as(log.toString()).isEqualTo(130);
        try (Stream<Path> left = Files.list(dir)) {
            assertThat(left.map(p -> p.getFileName().toString())).as("files left").isEmpty();
        }
    }

    /** Whether this process ignores SIGINT (Linux: bit 2 of SigIgn in /proc/self/status); a child inherits it. */
    private static boolean sigintIgnored() throws IOException {
        Path status = Path.of("/proc/self/status");
        if (!Files.isReadable(status)) {
            return false;
        }
        try (Stream<String> lines = Files.lines(status)) {
            return lines.filter(l -> l.startsWith("SigIgn:"))
                    .anyMatch(l -> (Long.parseUnsignedLong(l.substring("SigIgn:".length()).trim(), 16) & 2L) != 0);
        }
    }

    private void expectError(String message, String... options) {
        List<String> all = new ArrayList<>(List.of("generate", "-p", "x", "-o", dir.resolve("o.png").toString()));
        all.addAll(List.of(options));
        CliTest.Run r = CliTest.run(all.toArray(String[]::new));
        assertThat(r.exitCode()).as(r.err()).isEqualTo(1);
        List<String> errors = r.err().lines().filter(l -> l.startsWith("jdiffusion: error: ")).toList();
        assertThat(errors).as(r.err()).singleElement().satisfies(l -> assertThat(l).contains(message));
        assertThat(Files.exists(dir.resolve("o.png"))).isFalse();
    }

    private Path copyTinyModel() throws IOException {
        return TestFiles.copyTree(TinySd.modelDir(), Files.createTempDirectory(dir, "model"));
    }
}
