package io.jdiffusion.models.sd;

import io.jdiffusion.core.io.FileHashes;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * How a model is named where it is shared (a PNG's infotext): the name A1111 gives a checkpoint, its file
 * name without the extension (a diffusers folder: the folder's name), and for a single file A1111's
 * "AutoV2" model hash, the first 10 hex digits of the file's SHA-256. Never a local path.
 *
 * <p>The hash of a multi-gigabyte file takes seconds, so it is computed on first use, kept for the life of
 * this object and remembered across runs by {@link FileHashes}.
 */
public final class ModelIdentity {
    private static final int AUTO_V2_DIGITS = 10;

    private final String name;
    private final Path hashedFile;
    private final FileHashes hashes;
    private String sha256;

    private ModelIdentity(String name, Path hashedFile, FileHashes hashes) {
        this.name = name;
        this.hashedFile = hashedFile;
        this.hashes = hashes;
    }

    /** A single-file checkpoint: named after the file, hashed with the user's hash cache. */
    public static ModelIdentity ofFile(Path file) {
        return ofFile(file, FileHashes.userCache());
    }

    public static ModelIdentity ofFile(Path file, FileHashes hashes) {
        String fileName = file.getFileName().toString();
        int dot = fileName.lastIndexOf('.');
        return new ModelIdentity(dot > 0 ? fileName.substring(0, dot) : fileName, file, hashes);
    }

    /** A diffusers folder: named after the folder; A1111 has no hash for folders, so there is none. */
    public static ModelIdentity ofFolder(Path folder) {
        Path name = folder.toAbsolutePath().normalize().getFileName();
        return named(name == null ? "model" : name.toString());
    }

    /** A model without a file (random weights). */
    public static ModelIdentity named(String name) {
        return new ModelIdentity(name, null, null);
    }

    /** A1111's model name: the checkpoint's file name without extension, or the folder's name. */
    public String name() {
        return name;
    }

    /** The file whose hash {@link #autoV2Hash} gives, if any. */
    public Optional<Path> hashedFile() {
        return Optional.ofNullable(hashedFile);
    }

    /** Whether {@link #autoV2Hash} is known without reading the file. */
    public synchronized boolean hashKnown() {
        try {
            return hashedFile == null || sha256 != null || hashes.cached(hashedFile).isPresent();
        } catch (IOException e) {
            return false;
        }
    }

    /** Where hashes are remembered across runs, if this model has a file. */
    public Optional<Path> hashCache() {
        return hashedFile == null ? Optional.empty() : Optional.of(hashes.cacheFile());
    }

    /** A1111's "Model hash": the first 10 hex digits of the file's SHA-256; empty for folders and random weights. */
    public synchronized Optional<String> autoV2Hash() {
        if (hashedFile == null) {
            return Optional.empty();
        }
        if (sha256 == null) {
            try {
                sha256 = hashes.sha256(hashedFile);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot hash " + hashedFile + ": " + e.getMessage(), e);
            }
        }
        return Optional.of(sha256.substring(0, AUTO_V2_DIGITS));
    }

    /**
     * Starts computing {@link #autoV2Hash} on a daemon thread, so that reading a multi-gigabyte file overlaps the
     * model's preparation instead of preceding it; a later {@link #autoV2Hash} waits for it (both hold this object's
     * lock). A failure here is left for that call to report, where it reads the file again.
     */
    public void hashInBackground() {
        if (hashedFile == null) {
            return;
        }
        Thread.ofPlatform().daemon().name("model-hash").start(() -> {
            try {
                autoV2Hash();
            } catch (UncheckedIOException e) {
                // reported by the caller's own autoV2Hash
            }
        });
    }

    @Override
    public String toString() {
        return name;
    }
}
