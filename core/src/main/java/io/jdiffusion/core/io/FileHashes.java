package io.jdiffusion.core.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * SHA-256 of whole files (multi-gigabyte checkpoints), computed once per version of a file and remembered
 * in a JSON cache: the real path maps to the size, the modification time and the digest, so a file that
 * is replaced or touched is hashed again and an unchanged one never. The cache lives in the user's cache
 * folder (model folders are often read-only and shared) and is updated under a file lock, so concurrent
 * processes do not lose each other's entries; entries of files that no longer exist are dropped on write.
 */
public final class FileHashes {
    /** Overrides the cache folder (tests; machines whose home is read-only). */
    public static final String CACHE_DIR_PROPERTY = "jdiffusion.cache.dir";
    private static final String CACHE_FILE = "sha256.json";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int CHUNK = 8 << 20;

    private final Path cacheFile;

    public FileHashes(Path cacheFile) {
        this.cacheFile = cacheFile;
    }

    /**
     * The cache in {@code -Djdiffusion.cache.dir}, else {@code $XDG_CACHE_HOME/jdiffusion}, else
     * {@code ~/.cache/jdiffusion}.
     */
    public static FileHashes userCache() {
        String override = System.getProperty(CACHE_DIR_PROPERTY);
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path dir = override != null ? Path.of(override)
                : xdg != null && !xdg.isBlank() ? Path.of(xdg, "jdiffusion")
                : Path.of(System.getProperty("user.home"), ".cache", "jdiffusion");
        return new FileHashes(dir.resolve(CACHE_FILE));
    }

    public Path cacheFile() {
        return cacheFile;
    }

    /** The cached lower-case hex SHA-256 of this version of {@code file}, if there is one. */
    public Optional<String> cached(Path file) throws IOException {
        Version v = Version.of(file);
        JsonNode entry = readCache().path(v.key());
        return v.matches(entry) ? Optional.of(entry.get("sha256").asText()) : Optional.empty();
    }

    /**
     * The lower-case hex SHA-256 of {@code file}: from the cache when this version of the file was hashed
     * before, else computed (reading the whole file) and recorded. A cache that cannot be written costs
     * only the recomputation next time.
     */
    public String sha256(Path file) throws IOException {
        Optional<String> known = cached(file);
        if (known.isPresent()) {
            return known.get();
        }
        Version v = Version.of(file);
        String digest = digest(file);
        try {
            record(v, digest);
        } catch (IOException e) {
            // a read-only home or a full disk must not fail the run that wanted the hash
        }
        return digest;
    }

    /** SHA-256 of the file's bytes, read in large sequential chunks. */
    static String digest(Path file) throws IOException {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
        ByteBuffer buffer = ByteBuffer.allocateDirect(CHUNK);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            while (ch.read(buffer) >= 0) {
                buffer.flip();
                sha.update(buffer);
                buffer.clear();
            }
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    private void record(Version v, String digest) throws IOException {
        Files.createDirectories(cacheFile.toAbsolutePath().getParent());
        Path lockFile = cacheFile.resolveSibling(cacheFile.getFileName() + ".lock");
        try (FileChannel lockChannel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             FileLock ignored = lockChannel.lock()) {
            ObjectNode cache = readCache();
            for (Iterator<Map.Entry<String, JsonNode>> it = cache.properties().iterator(); it.hasNext(); ) {
                if (!Files.exists(Path.of(it.next().getKey()))) {
                    it.remove();
                }
            }
            cache.putObject(v.key()).put("size", v.size()).put("modified_ns", v.modifiedNanos()).put("sha256", digest);
            AtomicFile.write(cacheFile, out -> out.write(JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(cache)));
        }
    }

    /** The cache's content; a missing or unreadable cache is an empty one (it only saves time). */
    private ObjectNode readCache() {
        if (!Files.isRegularFile(cacheFile)) {
            return JSON.createObjectNode();
        }
        try {
            JsonNode root = JSON.readTree(cacheFile.toFile());
            return root instanceof ObjectNode o ? o : JSON.createObjectNode();
        } catch (IOException | UncheckedIOException e) {
            return JSON.createObjectNode();
        }
    }

    /** What identifies one version of a file: where it really is, how long it is, when it last changed. */
    private record Version(String key, long size, long modifiedNanos) {
        static Version of(Path file) throws IOException {
            Path real = file.toRealPath();
            BasicFileAttributes a = Files.readAttributes(real, BasicFileAttributes.class);
            if (!a.isRegularFile()) {
                throw new IOException(file + " is not a regular file");
            }
            return new Version(real.toString(), a.size(), a.lastModifiedTime().to(TimeUnit.NANOSECONDS));
        }

        boolean matches(JsonNode entry) {
            return entry.path("size").asLong(-1) == size && entry.path("modified_ns").asLong(-1) == modifiedNanos
                    && entry.path("sha256").asText("").matches("[0-9a-f]{64}");
        }
    }
}
