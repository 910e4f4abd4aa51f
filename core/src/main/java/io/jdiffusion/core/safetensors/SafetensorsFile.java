package io.jdiffusion.core.safetensors;

import io.jdiffusion.core.Tensor;
import io.jdiffusion.core.io.RegularFiles;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.Set;

/**
 * A memory-mapped safetensors file. Everything in the header is checked when the file is opened
 * ({@link SafetensorsHeader}), so a tensor handed out is always a valid zero-copy view of the mapping;
 * {@link #close()} unmaps it and every view becomes unusable.
 *
 * <p>Format: 8-byte little-endian header length N, N bytes of UTF-8 JSON mapping names to
 * {@code {dtype, shape, data_offsets:[begin,end]}} (offsets relative to the byte after the header), and an
 * optional {@code __metadata__} map of strings.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** The reference implementation's bound; larger headers are refused before anything is read. */
    public static final long MAX_HEADER_BYTES = SafetensorsHeader.MAX_HEADER_BYTES;

    private final Path path;
    private final Arena arena;
    private final MemorySegment data;
    private final SafetensorsHeader header;

    private SafetensorsFile(Path path, Arena arena, MemorySegment data, SafetensorsHeader header) {
        this.path = path;
        this.arena = arena;
        this.data = data;
        this.header = header;
    }

    /** Maps and validates {@code path}; throws {@link SafetensorsException} naming the problem. */
    public static SafetensorsFile open(Path path) {
        String problem = RegularFiles.problem(path);
        if (problem != null) {
            throw new SafetensorsException(path, problem);
        }
        Arena arena = Arena.ofShared();
        try {
            MemorySegment whole;
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
                whole = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            }
            SafetensorsHeader header = SafetensorsHeader.parse(path, whole);
            return new SafetensorsFile(path, arena, whole.asSlice(header.dataStart()), header);
        } catch (IOException e) {
            arena.close();
            throw new SafetensorsException(path, "cannot read: " + (e.getMessage() != null ? e.getMessage() : e.toString()), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    public Set<String> names() {
        return header.entries().keySet();
    }

    public boolean contains(String name) {
        return header.entries().containsKey(name);
    }

    public Map<String, SafetensorsHeader.Entry> entries() {
        return header.entries();
    }

    public Map<String, String> metadata() {
        return header.metadata();
    }

    /** A zero-copy view of tensor {@code name}; valid until this file is closed. */
    public Tensor tensor(String name) {
        SafetensorsHeader.Entry e = header.entries().get(name);
        if (e == null) {
            throw new SafetensorsException(path, name, "no such tensor");
        }
        return Tensor.view(data.asSlice(e.begin(), e.end() - e.begin()), e.shape(), e.dtype());
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }
}
