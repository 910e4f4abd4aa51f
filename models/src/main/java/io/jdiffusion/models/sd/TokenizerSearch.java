package io.jdiffusion.models.sd;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.models.config.ConfigJson;
import io.jdiffusion.models.config.ModelLoadException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Finds the tokenizer files a single-file checkpoint lacks, in the places users already have them:
 * <ol>
 *   <li>the folder named with {@code --config} ({@code DIR/tokenizer/}, or DIR itself holding the files);</li>
 *   <li>a diffusers folder beside the checkpoint: the checkpoint's own folder, or one of its sibling folders,
 *       holding {@code tokenizer/};</li>
 *   <li>the Hugging Face hub caches ({@code models--ORG--NAME/snapshots/REV/}) of the repositories known to
 *       carry the family's tokenizer; the revision {@code refs/main} names comes first.</li>
 * </ol>
 * Folders found by searching must carry the family's pad token (SD 2.x pads with "!", SD 1.x with the end
 * token), so an SD 1.x tokenizer is never picked for an SD 2.x checkpoint. When nothing is found, the error
 * is one line naming the files needed and every place searched.
 */
final class TokenizerSearch {
    private static final List<String> FILES = List.of("vocab.json", "merges.txt");

    private TokenizerSearch() {
    }

    /** A tokenizer folder per folder the family needs, and where they were found, for the model's description. */
    record Found(List<Path> folders, String where) {
    }

    /**
     * The Hugging Face hub caches of this environment, as huggingface_hub resolves them: {@code HF_HUB_CACHE}
     * (or the older {@code HUGGINGFACE_HUB_CACHE}), else {@code HF_HOME/hub}, else
     * {@code XDG_CACHE_HOME/huggingface/hub}, else {@code ~/.cache/huggingface/hub}.
     */
    static List<Path> hubCaches(Map<String, String> env, String userHome) {
        for (String name : List.of("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE")) {
            String v = env.get(name);
            if (v != null && !v.isBlank()) {
                return List.of(Path.of(v));
            }
        }
        String home = env.get("HF_HOME");
        if (home != null && !home.isBlank()) {
            return List.of(Path.of(home, "hub"));
        }
        String xdg = env.get("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank()) {
            return List.of(Path.of(xdg, "huggingface", "hub"));
        }
        return List.of(Path.of(userHome, ".cache", "huggingface", "hub"));
    }

    static Found find(Path checkpoint, CheckpointFamily family, Path configFolder, List<Path> hubCaches) {
        if (configFolder != null) {
            return inConfigFolder(configFolder, family);
        }
        List<String> searched = new ArrayList<>();
        Path dir = checkpoint.toAbsolutePath().getParent();
        String first = family.tokenizerFolders().getFirst().name();
        searched.add(dir.resolve(first).toString());
        Optional<Found> found = candidate(dir, family, "the diffusers folder holding the checkpoint");
        if (found.isPresent()) {
            return found.get();
        }
        searched.add(dir.resolve("*").resolve(first).toString());
        for (Path sibling : subfolders(dir)) {
            found = candidate(sibling, family, "the diffusers folder " + sibling + " beside the checkpoint");
            if (found.isPresent()) {
                return found.get();
            }
        }
        for (Path cache : hubCaches) {
            for (CheckpointFamily.HubSource source : family.hubSources()) {
                Path repo = cache.resolve(source.cacheFolderName());
                searched.add(repo.resolve("snapshots/*").resolve(source.filesAtRoot() ? "" : family.tokenizerFolders().getFirst().name()).toString());
                for (Path snapshot : snapshots(repo)) {
                    found = source.filesAtRoot() ? atRoot(snapshot, family, "the Hugging Face cache of " + source.repoId())
                            : candidate(snapshot, family, "the Hugging Face cache of " + source.repoId());
                    if (found.isPresent()) {
                        return found.get();
                    }
                }
            }
        }
        throw new ModelLoadException(checkpoint + " is a single-file " + family.label() + " checkpoint, which holds no "
                + "tokenizer, and none was found: it needs " + String.join(" and ", needed(family)) + " of "
                + family.hubSources().getFirst().repoId() + ". Looked in " + String.join(", ", searched)
                + ". Pass --config DIR with a folder holding " + first + "/ (for example: huggingface-cli download "
                + family.hubSources().getFirst().repoId() + " --include '" + (family.tokenizerFolders().size() > 1 ? "tokenizer*" : first)
                + "/*' --local-dir DIR).");
    }

    /** {@code DIR/tokenizer/} (and any further folders the family needs), or DIR itself holding the files. */
    private static Found inConfigFolder(Path dir, CheckpointFamily family) {
        List<Path> folders = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        for (CheckpointFamily.TokenizerFolder folder : family.tokenizerFolders()) {
            String name = folder.name();
            Path sub = dir.resolve(name);
            if (holdsTokenizer(sub)) {
                folders.add(sub);
            } else if (family.tokenizerFolders().size() == 1 && holdsTokenizer(dir)) {
                folders.add(dir);
            } else {
                FILES.forEach(f -> missing.add(name + "/" + f));
            }
        }
        if (!missing.isEmpty()) {
            throw new ModelLoadException("--config " + dir + ": missing " + String.join(" and ", missing) + " (the "
                    + family.label() + " tokenizer files, e.g. the tokenizer/ folder" + (family.tokenizerFolders().size() > 1 ? "s" : "")
                    + " of " + family.hubSources().getFirst().repoId() + ")");
        }
        return new Found(folders, dir.toString());
    }

    /** The tokenizer folders under a diffusers folder, when it has all of them with the family's pad tokens. */
    private static Optional<Found> candidate(Path root, CheckpointFamily family, String where) {
        List<Path> folders = new ArrayList<>();
        for (CheckpointFamily.TokenizerFolder folder : family.tokenizerFolders()) {
            Path dir = root.resolve(folder.name());
            if (!holdsTokenizer(dir) || !padTokenOf(dir).equals(folder.padToken())) {
                return Optional.empty();
            }
            folders.add(dir);
        }
        return Optional.of(new Found(folders, where));
    }

    /** The tokenizer files at a (CLIP) repository's root, for a family with one tokenizer. */
    private static Optional<Found> atRoot(Path snapshot, CheckpointFamily family, String where) {
        List<CheckpointFamily.TokenizerFolder> folders = family.tokenizerFolders();
        return folders.size() == 1 && holdsTokenizer(snapshot) && padTokenOf(snapshot).equals(folders.getFirst().padToken())
                ? Optional.of(new Found(List.of(snapshot), where)) : Optional.empty();
    }

    private static List<String> needed(CheckpointFamily family) {
        List<String> files = new ArrayList<>();
        for (CheckpointFamily.TokenizerFolder folder : family.tokenizerFolders()) {
            FILES.forEach(f -> files.add(folder.name() + "/" + f));
        }
        return files;
    }

    static boolean holdsTokenizer(Path dir) {
        return FILES.stream().allMatch(f -> Files.isRegularFile(dir.resolve(f)));
    }

    /** The pad token a tokenizer folder declares; CLIP's end token when it declares none (transformers' default). */
    static String padTokenOf(Path dir) {
        Path map = dir.resolve("special_tokens_map.json");
        if (!Files.isRegularFile(map)) {
            return "<|endoftext|>";
        }
        JsonNode pad = ConfigJson.readTree(map).path("pad_token");
        return pad.isObject() ? pad.path("content").asText("<|endoftext|>") : pad.asText("<|endoftext|>");
    }

    private static List<Path> subfolders(Path dir) {
        try (Stream<Path> list = Files.list(dir)) {
            return list.filter(Files::isDirectory).sorted().toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    /** A repository's snapshots, the one {@code refs/main} names first, then the newest. */
    private static List<Path> snapshots(Path repo) {
        Path dir = repo.resolve("snapshots");
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        Set<Path> ordered = new LinkedHashSet<>();
        try {
            Path main = repo.resolve("refs/main");
            if (Files.isRegularFile(main)) {
                Path named = dir.resolve(Files.readString(main).strip());
                if (Files.isDirectory(named)) {
                    ordered.add(named);
                }
            }
            try (Stream<Path> list = Files.list(dir)) {
                list.filter(Files::isDirectory)
                        .sorted(Comparator.comparing(TokenizerSearch::modified).reversed())
                        .forEach(ordered::add);
            }
        } catch (IOException e) {
            return List.copyOf(ordered);
        }
        return List.copyOf(ordered);
    }

    private static long modified(Path p) {
        try {
            return Files.getLastModifiedTime(p).toMillis();
        } catch (IOException e) {
            return 0;
        }
    }
}
