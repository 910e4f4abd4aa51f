package io.jdiffusion.server.jobs;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * The configured LoRA folder (serve --lora-dir): what {@code <lora:NAME:W>} tags in prompts may name, and
 * what {@code /sdapi/v1/loras} lists. Names are resolved by the models module inside this folder only;
 * clients see names and paths relative to it, never where it lies.
 */
public final class LoraFolder {
    /** As deep as the models module searches for a tag's file. */
    private static final int DEPTH = 8;
    private static final String EXTENSION = ".safetensors";

    /** One LoRA as A1111's Lora extension lists it; {@code path} is relative to the folder. */
    public record Entry(String name, String path) {
    }

    private final Path dir;

    /** @param dir the folder, or null when the server has none */
    public LoraFolder(Path dir) {
        this.dir = dir == null ? null : dir.toAbsolutePath().normalize();
    }

    public Path dir() {
        return dir;
    }

    /** Every {@code .safetensors} file in the folder and below, sorted by path; empty without a folder. */
    public List<Entry> list() {
        if (dir == null || !Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> walk = Files.walk(dir, DEPTH)) {
            return walk.filter(p -> p.getFileName().toString().endsWith(EXTENSION) && Files.isRegularFile(p))
                    .map(p -> {
                        String file = p.getFileName().toString();
                        return new Entry(file.substring(0, file.length() - EXTENSION.length()),
                                dir.relativize(p).toString());
                    })
                    .sorted(java.util.Comparator.comparing(Entry::path))
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the LoRA folder", e);
        }
    }

    /** A message with the folder's location replaced, for answers to clients. */
    public String hideLocation(String message) {
        return dir == null || message == null ? message : message.replace(dir.toString(), "the LoRA folder");
    }
}
