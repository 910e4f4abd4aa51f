package io.jdiffusion.models.lora;

import io.jdiffusion.models.prompt.ExtraNetworkTags;
import io.jdiffusion.models.prompt.LoraTag;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The LoRAs one request asks for: the files given directly, then those named by {@code <lora:NAME:W>} tags in
 * the prompt, each resolved to {@code NAME.safetensors} in the LoRA folder (or in a folder below it, as A1111
 * finds them). The prompt the text encoder sees has the tags removed; the negative prompt is left as written
 * (A1111 reads tags in the positive prompt only). Tags of other extra networks ({@code <hypernet:...>}) are
 * removed and reported as ignored.
 *
 * @param prompt   the prompt without its extra-network tags
 * @param loras    every LoRA to apply, files first, then tags in order
 * @param warnings one line per ignored tag
 */
public record LoraRequest(String prompt, List<LoraUse> loras, List<String> warnings) {
    private static final int SEARCH_DEPTH = 8;

    public LoraRequest {
        loras = List.copyOf(loras);
        warnings = List.copyOf(warnings);
    }

    public static LoraRequest resolve(String prompt, List<LoraUse> files, Path loraDir) {
        ExtraNetworkTags.Parsed parsed = ExtraNetworkTags.parse(prompt);
        List<LoraUse> loras = new ArrayList<>(files);
        for (LoraTag tag : parsed.loras()) {
            loras.add(new LoraUse(find(tag, loraDir), tag.textEncoderWeight(), tag.unetWeight(), tag.text()));
        }
        List<String> warnings = parsed.ignored().stream()
                .map(t -> "ignored " + t + ": only LoRA tags are supported").toList();
        return new LoraRequest(parsed.prompt(), loras, warnings);
    }

    private static Path find(LoraTag tag, Path dir) {
        if (dir == null) {
            throw new LoraException("the prompt asks for " + tag.text() + " but no LoRA folder is set (--lora-dir)");
        }
        if (!Files.isDirectory(dir)) {
            throw new LoraException("LoRA folder not found: " + dir);
        }
        String file = tag.name().endsWith(".safetensors") ? tag.name() : tag.name() + ".safetensors";
        Path direct;
        try {
            direct = dir.resolve(file).normalize();
        } catch (InvalidPathException e) {
            throw new LoraException("LoRA name '" + tag.name() + "' is not a file name (" + tag.text() + ")", e);
        }
        if (direct.startsWith(dir.normalize()) && Files.isRegularFile(direct)) {
            return direct;
        }
        try (Stream<Path> walk = Files.walk(dir, SEARCH_DEPTH)) {
            List<Path> found = walk.filter(p -> p.getFileName().toString().equals(file) && Files.isRegularFile(p))
                    .sorted().toList();
            if (found.isEmpty()) {
                throw new LoraException("no LoRA named '" + tag.name() + "' in " + dir + " (looked for " + file
                        + ", for " + tag.text() + ")");
            }
            if (found.size() > 1) {
                throw new LoraException("LoRA name '" + tag.name() + "' is ambiguous in " + dir + ": " + found);
            }
            return found.getFirst();
        } catch (IOException | UncheckedIOException e) {
            throw new LoraException("cannot search the LoRA folder " + dir + ": " + e.getMessage(), e);
        }
    }
}
