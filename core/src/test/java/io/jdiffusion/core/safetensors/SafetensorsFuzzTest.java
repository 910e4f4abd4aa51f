package io.jdiffusion.core.safetensors;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.core.testing.FuzzContract;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The safetensors header and offsets parser under the fuzzer, on the bytes in memory and on the same bytes
 * as a file: both refuse with the same message or both accept, and an accepted file hands out a view of
 * every tensor inside its data. Seeds (valid files and one file per corruption class) are in
 * src/test/resources/io/jdiffusion/core/safetensors/SafetensorsFuzzTestInputs/headerAndFile.
 */
class SafetensorsFuzzTest {
    private static Path dir;

    @BeforeAll
    static void makeDir() throws IOException {
        dir = Files.createTempDirectory("safetensors-fuzz");
    }

    @AfterAll
    static void removeDir() throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    @FuzzTest(maxDuration = "10s")
    void headerAndFile(byte[] input) throws IOException {
        Path file = dir.resolve("input.safetensors");
        String fromBytes = outcome(() -> {
            SafetensorsHeader h = SafetensorsHeader.parse(file, MemorySegment.ofArray(input));
            for (SafetensorsHeader.Entry e : h.entries().values()) {
                assertThat(h.dataStart() + e.end()).isLessThanOrEqualTo(input.length);
            }
        }, input.length);
        Files.write(file, input);
        String fromFile = outcome(() -> {
            try (SafetensorsFile f = SafetensorsFile.open(file)) {
                for (String name : f.names()) {
                    try (Tensor t = f.tensor(name)) {
                        assertThat(t.shape()).isEqualTo(f.entries().get(name).shape());
                    }
                }
            }
        }, input.length);
        assertThat(fromFile).as("the file and its bytes give the same outcome").isEqualTo(fromBytes);
    }

    /** "accepted", or the refusal's message; anything else fails the contract. */
    private static String outcome(FuzzContract.Call call, long inputBytes) {
        String[] refusal = {"accepted"};
        FuzzContract.check(SafetensorsException.class, inputBytes, () -> {
            try {
                call.run();
            } catch (SafetensorsException e) {
                refusal[0] = e.getMessage();
                throw e;
            }
        });
        return refusal[0];
    }

    /** The seeds named valid-* open; every other seed is one corruption class, refused with a line naming the file. */
    @Test
    void everyCorruptionClassInTheSeedCorpusIsRefused() throws Exception {
        Path seeds = Path.of(SafetensorsFuzzTest.class.getResource("SafetensorsFuzzTestInputs/headerAndFile").toURI());
        try (Stream<Path> files = Files.list(seeds)) {
            for (Path seed : files.sorted().toList()) {
                String name = seed.getFileName().toString();
                if (name.startsWith("valid-")) {
                    try (SafetensorsFile f = SafetensorsFile.open(seed)) {
                        assertThat(f.names()).as(name).isNotNull();
                    }
                } else {
                    assertThatThrownBy(() -> SafetensorsFile.open(seed).close()).as(name)
                            .isInstanceOf(SafetensorsException.class).hasMessageStartingWith(seed + ": ");
                }
            }
        }
    }
}
