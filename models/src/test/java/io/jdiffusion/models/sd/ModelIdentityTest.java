package io.jdiffusion.models.sd;

import io.jdiffusion.core.io.FileHashes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ModelIdentityTest {
    /** SHA-256 of "abc". */
    private static final String ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    @TempDir
    Path dir;

    @Test
    void aHashStartedInTheBackgroundIsTheOneTheInfotextGets() throws IOException {
        Path file = Files.writeString(dir.resolve("my-model.safetensors"), "abc");
        ModelIdentity id = ModelIdentity.ofFile(file, new FileHashes(dir.resolve("sha256.json")));
        assertThat(id.name()).isEqualTo("my-model");
        assertThat(id.hashKnown()).isFalse();
        id.hashInBackground();
        assertThat(id.autoV2Hash()).contains(ABC.substring(0, 10));
        assertThat(id.hashKnown()).isTrue();
    }

    @Test
    void aFileThatCannotBeReadFailsWhereTheHashIsAskedFor() {
        ModelIdentity id = ModelIdentity.ofFile(dir.resolve("missing.safetensors"), new FileHashes(dir.resolve("sha256.json")));
        id.hashInBackground();
        assertThatThrownBy(id::autoV2Hash).isInstanceOf(UncheckedIOException.class).hasMessageContaining("missing.safetensors");
    }

    @Test
    void modelsWithoutAFileHaveNoHashToCompute() {
        ModelIdentity id = ModelIdentity.named("random weights");
        id.hashInBackground();
        assertThat(id.autoV2Hash()).isEmpty();
        assertThat(id.hashKnown()).isTrue();
    }
}
