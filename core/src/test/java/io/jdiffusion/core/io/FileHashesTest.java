package io.jdiffusion.core.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;

import static org.assertj.core.api.Assertions.assertThat;

class FileHashesTest {
    private static final String ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void digestIsSha256OfTheWholeFile() throws IOException {
        assertThat(FileHashes.digest(Files.writeString(dir.resolve("abc"), "abc"))).isEqualTo(ABC);
        // longer than one read chunk, so the loop over chunks is exercised
        byte[] big = new byte[(8 << 20) + 13];
        big[big.length - 1] = 1;
        Path file = Files.write(dir.resolve("big"), big);
        assertThat(FileHashes.digest(file)).hasSize(64).isNotEqualTo(FileHashes.digest(Files.write(dir.resolve("z"), new byte[big.length])));
    }

    @Test
    void aFileIsHashedOnceAndAgainOnlyWhenItChanges() throws IOException {
        Path model = Files.writeString(dir.resolve("model.safetensors"), "abc");
        FileHashes hashes = new FileHashes(dir.resolve("cache/sha256.json"));
        assertThat(hashes.cached(model)).isEmpty();
        assertThat(hashes.sha256(model)).isEqualTo(ABC);
        assertThat(hashes.cached(model)).contains(ABC);

        // the second call reads the cache, not the file: a planted digest for the same size and time comes back
        String planted = "0".repeat(64);
        ObjectNode cache = (ObjectNode) JSON.readTree(hashes.cacheFile().toFile());
        ((ObjectNode) cache.get(model.toRealPath().toString())).put("sha256", planted);
        Files.write(hashes.cacheFile(), JSON.writeValueAsBytes(cache));
        assertThat(new FileHashes(hashes.cacheFile()).sha256(model)).isEqualTo(planted);

        // a touched file is a new version
        Files.setLastModifiedTime(model, FileTime.fromMillis(Files.getLastModifiedTime(model).toMillis() - 5000));
        assertThat(hashes.sha256(model)).isEqualTo(ABC);
    }

    @Test
    void entriesOfDeletedFilesAreDroppedAndACorruptCacheIsIgnored() throws IOException {
        FileHashes hashes = new FileHashes(dir.resolve("sha256.json"));
        Path gone = Files.writeString(dir.resolve("gone.safetensors"), "x");
        hashes.sha256(gone);
        Files.delete(gone);
        Path kept = Files.writeString(dir.resolve("kept.safetensors"), "abc");
        hashes.sha256(kept);
        assertThat(iterableOf(JSON.readTree(hashes.cacheFile().toFile()).fieldNames())).containsExactly(kept.toRealPath().toString());

        Files.writeString(hashes.cacheFile(), "{ not json");
        assertThat(hashes.cached(kept)).isEmpty();
        assertThat(hashes.sha256(kept)).isEqualTo(ABC);
        assertThat(hashes.cached(kept)).contains(ABC);
    }

    private static java.util.List<String> iterableOf(java.util.Iterator<String> it) {
        java.util.List<String> l = new java.util.ArrayList<>();
        it.forEachRemaining(l::add);
        return l;
    }
}
