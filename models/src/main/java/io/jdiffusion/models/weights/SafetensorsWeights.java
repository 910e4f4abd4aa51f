package io.jdiffusion.models.weights;

import io.jdiffusion.core.Tensor;
import io.jdiffusion.core.safetensors.SafetensorsException;
import io.jdiffusion.core.safetensors.SafetensorsFile;
import io.jdiffusion.models.config.ModelLoadException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The tensors of one or more memory-mapped safetensors files (the shards of one checkpoint) under their
 * stored names. Tensors are zero-copy views, valid until {@link #close()}.
 */
public final class SafetensorsWeights implements AutoCloseable {
    private final List<SafetensorsFile> files = new ArrayList<>();
    private final Map<String, SafetensorsFile> byName = new LinkedHashMap<>();
    private final String description;

    private SafetensorsWeights(String description) {
        this.description = description;
    }

    /** Maps every file; a corrupt file or a tensor stored in two shards is a {@link ModelLoadException}. */
    public static SafetensorsWeights open(List<Path> paths) {
        if (paths.isEmpty()) {
            throw new IllegalArgumentException("no files");
        }
        SafetensorsWeights w = new SafetensorsWeights(paths.size() == 1 ? paths.getFirst().toString()
                : paths.size() + " shards in " + paths.getFirst().toAbsolutePath().getParent());
        try {
            for (Path p : paths) {
                SafetensorsFile f;
                try {
                    f = SafetensorsFile.open(p);
                } catch (SafetensorsException e) {
                    throw new ModelLoadException("cannot use weights file: " + e.getMessage(), e);
                }
                w.files.add(f);
                for (String name : f.names()) {
                    SafetensorsFile other = w.byName.putIfAbsent(name, f);
                    if (other != null) {
                        throw new ModelLoadException("tensor '" + name + "' is stored twice, in " + other.path() + " and " + p);
                    }
                }
            }
            return w;
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
    }

    public static SafetensorsWeights open(Path path) {
        return open(List.of(path));
    }

    public Set<String> names() {
        return Collections.unmodifiableSet(byName.keySet());
    }

    public boolean contains(String name) {
        return byName.containsKey(name);
    }

    /** The view of {@code name}, or null. */
    public Tensor tensor(String name) {
        SafetensorsFile f = byName.get(name);
        return f == null ? null : f.tensor(name);
    }

    public String description() {
        return description;
    }

    /** Metadata of the first file (single-file checkpoints sometimes say what they are here). */
    public Map<String, String> metadata() {
        return files.isEmpty() ? Map.of() : files.getFirst().metadata();
    }

    @Override
    public void close() {
        for (SafetensorsFile f : files) {
            f.close();
        }
    }
}
