package io.jdiffusion.core.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class AtomicFileTest {
    @TempDir
    Path dir;

    @Test
    void writesWholeFilesWithOrdinaryPermissions() throws IOException {
        Path target = dir.resolve("a.bin");
        AtomicFile.write(target, out -> out.write(new byte[]{1, 2, 3}));
        assertThat(Files.readAllBytes(target)).containsExactly(1, 2, 3);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(target))).isEqualTo("rw-r--r--");
        Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rw-rw----"));
        AtomicFile.write(target, out -> out.write(new byte[]{4}));
        assertThat(Files.readAllBytes(target)).containsExactly(4);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(target))).isEqualTo("rw-rw----");
    }

    @Test
    void aFailedWriteLeavesTheOldFileAndNoTemporary() throws IOException {
        Path target = dir.resolve("keep.txt");
        Files.writeString(target, "old");
        assertThatThrownBy(() -> AtomicFile.write(target, out -> {
            out.write("half of the new".getBytes());
            throw new IOException("disk full");
        })).hasMessage("disk full");
        assertThat(Files.readString(target)).isEqualTo("old");
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files).containsExactly(target);
        }
        assertThatThrownBy(() -> AtomicFile.write(dir.resolve("missing/x"), out -> { }))
                .hasMessageContaining("output folder does not exist");
    }
}
