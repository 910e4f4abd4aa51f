package io.jdiffusion.server.jobs;

import io.jdiffusion.core.io.FileHashes;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The checkpoints the server may load (A1111's models/Stable-diffusion): every {@code *.safetensors} file
 * and every diffusers folder (one holding {@code model_index.json}) directly inside {@code serve --model-dir},
 * plus the {@code --model} the server started with where that lies outside the folder. Listed afresh on
 * every call, so files added while the server runs appear.
 *
 * <p>Requests only ever pick an entry of this list by its name, title or hash: a name is never turned into
 * a path, so {@code ../x}, an absolute path or a name of something elsewhere is simply not found. A symbolic
 * link inside the folder that leads out of it is not listed. Clients see names relative to the folder, never
 * where it lies.
 */
public final class CheckpointFolder {
    private static final String EXTENSION = ".safetensors";
    private static final int HASH_DIGITS = 10;

    /**
     * One checkpoint.
     *
     * @param name       A1111's name: the path relative to the folder (a file keeps its extension)
     * @param path       where it lies (never shown to clients)
     * @param singleFile a .safetensors file (hashed as A1111 hashes it); else a diffusers folder (no hash)
     */
    public record Checkpoint(String name, Path path, boolean singleFile) {
        /** A1111's model_name: the name without its extension. */
        public String modelName() {
            return singleFile ? name.substring(0, name.length() - EXTENSION.length()) : name;
        }
    }

    private final Path dir;
    private final Checkpoint first;
    private final FileHashes hashes;

    /**
     * @param dir        the models folder, or null for the one model alone
     * @param firstModel the model the server loads first (--model): a file or diffusers folder
     * @param hashes     where the SHA-256 of checkpoint files is remembered (only known hashes are listed)
     */
    public CheckpointFolder(Path dir, Path firstModel, FileHashes hashes) {
        this.hashes = hashes;
        try {
            this.dir = dir == null ? null : dir.toRealPath();
            Path model = firstModel.toRealPath();
            Checkpoint inside = this.dir == null ? null : list(this.dir).stream()
                    .filter(c -> c.path().equals(model)).findFirst().orElse(null);
            this.first = inside != null ? inside : new Checkpoint(model.getFileName() == null ? "model"
                    : model.getFileName().toString(), model, Files.isRegularFile(model));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the models folder or the model: " + e.getMessage(), e);
        }
    }

    /** The checkpoint the server starts with. */
    public Checkpoint first() {
        return first;
    }

    /** Every checkpoint, sorted by name; the first model is among them. */
    public List<Checkpoint> list() {
        List<Checkpoint> all = new ArrayList<>(dir == null ? List.of() : list(dir));
        if (!all.contains(first)) {
            all.add(first);
        }
        all.sort(Comparator.comparing(Checkpoint::name));
        return all;
    }

    /** A1111's title: "name [hash]" where the hash is known, else the name. */
    public String title(Checkpoint c) {
        return shortHash(c).map(h -> c.name() + " [" + h + "]").orElse(c.name());
    }

    /** The file's SHA-256 where it has been computed before (A1111 lists only the hashes it knows, too). */
    public Optional<String> sha256(Checkpoint c) {
        if (!c.singleFile()) {
            return Optional.empty();
        }
        try {
            return hashes.cached(c.path());
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** A1111's short hash, the first 10 hex digits of the SHA-256, where known. */
    public Optional<String> shortHash(Checkpoint c) {
        return sha256(c).map(s -> s.substring(0, HASH_DIGITS));
    }

    /**
     * The checkpoint a client names, matched as A1111 matches it: its title, name, model_name, short hash or
     * full SHA-256 (case as given for names, either case for hashes).
     */
    public Optional<Checkpoint> find(String asked) {
        String wanted = asked.strip();
        if (wanted.isEmpty()) {
            return Optional.empty();
        }
        String lower = wanted.toLowerCase(Locale.ROOT);
        for (Checkpoint c : list()) {
            if (wanted.equals(c.name()) || wanted.equals(c.modelName()) || wanted.equals(title(c))) {
                return Optional.of(c);
            }
            Optional<String> sha = sha256(c);
            if (sha.isPresent() && (lower.equals(sha.get()) || lower.equals(sha.get().substring(0, HASH_DIGITS)))) {
                return Optional.of(c);
            }
        }
        return Optional.empty();
    }

    /** A message with the folder's location replaced, for answers to clients. */
    public String hideLocation(String message) {
        if (message == null) {
            return null;
        }
        String hidden = dir == null ? message : message.replace(dir.toString(), "the models folder");
        return hidden.replace(first.path().toString(), first.name());
    }

    /** The checkpoints directly inside {@code dir}, sorted by name (for choosing the first one). */
    public static List<Checkpoint> scan(Path dir) {
        try {
            List<Checkpoint> found = new ArrayList<>(list(dir.toRealPath()));
            found.sort(Comparator.comparing(Checkpoint::name));
            return found;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the models folder: " + e.getMessage(), e);
        }
    }

    private static List<Checkpoint> list(Path dir) {
        try (Stream<Path> entries = Files.list(dir)) {
            List<Checkpoint> out = new ArrayList<>();
            for (Path p : entries.toList()) {
                Checkpoint c = checkpoint(dir, p);
                if (c != null) {
                    out.add(c);
                }
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the models folder: " + e.getMessage(), e);
        }
    }

    /** The entry {@code p} of the folder as a checkpoint, or null: not one, or a link leading out of the folder. */
    private static Checkpoint checkpoint(Path dir, Path p) {
        String name = p.getFileName().toString();
        Path real;
        try {
            real = p.toRealPath();
        } catch (IOException e) {
            return null; // a dangling link or a loop
        }
        if (!real.startsWith(dir) || real.equals(dir)) {
            return null;
        }
        if (name.toLowerCase(Locale.ROOT).endsWith(EXTENSION) && Files.isRegularFile(real)) {
            return new Checkpoint(name, real, true);
        }
        if (Files.isDirectory(real) && Files.isRegularFile(real.resolve("model_index.json"))) {
            return new Checkpoint(name, real, false);
        }
        return null;
    }
}
