package io.jdiffusion.core.safetensors;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A memory-mapped safetensors file. Everything in the header is checked when the file is opened, so a
 * tensor handed out is always a valid zero-copy view of the mapping; {@link #close()} unmaps it and
 * every view becomes unusable.
 *
 * <p>Format: 8-byte little-endian header length N, N bytes of UTF-8 JSON mapping names to
 * {@code {dtype, shape, data_offsets:[begin,end]}} (offsets relative to the byte after the header), and an
 * optional {@code __metadata__} map of strings.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** The reference implementation's bound; larger headers are refused before anything is read. */
    public static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .build();

    /** One validated header entry. */
    public record Entry(String name, DType dtype, Shape shape, long begin, long end) {
    }

    private final Path path;
    private final Arena arena;
    private final MemorySegment data;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, Arena arena, MemorySegment data, Map<String, Entry> entries, Map<String, String> metadata) {
        this.path = path;
        this.arena = arena;
        this.data = data;
        this.entries = entries;
        this.metadata = metadata;
    }

    /** Maps and validates {@code path}; throws {@link SafetensorsException} naming the problem. */
    public static SafetensorsFile open(Path path) {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment whole;
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
                whole = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            }
            long fileSize = whole.byteSize();
            if (fileSize < 8) {
                throw new SafetensorsException(path, "file is " + fileSize + " bytes, too short for the 8-byte header length");
            }
            long headerLen = whole.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
            if (headerLen < 2 || headerLen > MAX_HEADER_BYTES) {
                throw new SafetensorsException(path, "header length " + Long.toUnsignedString(headerLen)
                        + " is outside [2, " + MAX_HEADER_BYTES + "]");
            }
            if (8 + headerLen > fileSize) {
                throw new SafetensorsException(path, "header length " + headerLen + " runs past the end of the "
                        + fileSize + "-byte file (truncated?)");
            }
            byte[] headerBytes = whole.asSlice(8, headerLen).toArray(ValueLayout.JAVA_BYTE);
            String header = decodeUtf8(path, headerBytes);
            MemorySegment data = whole.asSlice(8 + headerLen);
            Map<String, String> metadata = new LinkedHashMap<>();
            Map<String, Entry> entries = parseHeader(path, header, data.byteSize(), metadata);
            return new SafetensorsFile(path, arena, data, entries, metadata);
        } catch (IOException e) {
            arena.close();
            throw new SafetensorsException(path, "cannot read: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static String decodeUtf8(Path path, byte[] bytes) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new SafetensorsException(path, "header is not valid UTF-8");
        }
    }

    private static Map<String, Entry> parseHeader(Path path, String header, long dataBytes, Map<String, String> metadata) {
        JsonNode root;
        try {
            root = JSON.readTree(header.strip());
        } catch (JsonProcessingException e) {
            throw new SafetensorsException(path, "header is not well-formed JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            throw new SafetensorsException(path, "header is not a JSON object");
        }
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            String name = field.getKey();
            JsonNode node = field.getValue();
            if (name.equals("__metadata__")) {
                readMetadata(path, node, metadata);
                continue;
            }
            entries.put(name, parseEntry(path, name, node, dataBytes));
        }
        checkNoOverlap(path, entries);
        return Collections.unmodifiableMap(entries);
    }

    private static void readMetadata(Path path, JsonNode node, Map<String, String> metadata) {
        if (!node.isObject()) {
            throw new SafetensorsException(path, "__metadata__ is not an object");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> m = it.next();
            if (!m.getValue().isTextual()) {
                throw new SafetensorsException(path, "__metadata__ value '" + m.getKey() + "' is not a string");
            }
            metadata.put(m.getKey(), m.getValue().asText());
        }
    }

    private static Entry parseEntry(Path path, String name, JsonNode node, long dataBytes) {
        if (!node.isObject()) {
            throw new SafetensorsException(path, name, "entry is not an object");
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw new SafetensorsException(path, name, "missing or non-string dtype");
        }
        DType dtype = DType.fromSafetensorsName(dtypeNode.asText());
        if (dtype == null) {
            throw new SafetensorsException(path, name, "unknown or unsupported dtype '" + dtypeNode.asText()
                    + "' (jdiffusion reads F32, F16, BF16, I32, I64)");
        }
        JsonNode shapeNode = node.get("shape");
        if (shapeNode == null || !shapeNode.isArray()) {
            throw new SafetensorsException(path, name, "missing shape array");
        }
        long[] dims = new long[shapeNode.size()];
        for (int i = 0; i < dims.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.canConvertToExactIntegral() || !d.canConvertToLong() || d.asLong() < 0) {
                throw new SafetensorsException(path, name, "shape " + shapeNode + " has an invalid dimension");
            }
            dims[i] = d.asLong();
        }
        Shape shape;
        long expected;
        try {
            shape = Shape.of(dims);
            expected = Math.multiplyExact(shape.elementCount(), (long) dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new SafetensorsException(path, name, "shape " + shapeNode + " overflows");
        }
        JsonNode offsets = node.get("data_offsets");
        if (offsets == null || !offsets.isArray() || offsets.size() != 2
                || !offsets.get(0).canConvertToExactIntegral() || !offsets.get(1).canConvertToExactIntegral()
                || !offsets.get(0).canConvertToLong() || !offsets.get(1).canConvertToLong()) {
            throw new SafetensorsException(path, name, "data_offsets must be two integers, got " + offsets);
        }
        long begin = offsets.get(0).asLong();
        long end = offsets.get(1).asLong();
        if (begin < 0 || end < begin) {
            throw new SafetensorsException(path, name, "data_offsets [" + begin + ", " + end + "] are not an ordered range");
        }
        if (end > dataBytes) {
            throw new SafetensorsException(path, name, "data_offsets [" + begin + ", " + end + "] run past the "
                    + dataBytes + " bytes of data (truncated file?)");
        }
        if (end - begin != expected) {
            throw new SafetensorsException(path, name, "shape " + shape + " x " + dtype + " needs " + expected
                    + " bytes but data_offsets [" + begin + ", " + end + "] hold " + (end - begin));
        }
        return new Entry(name, dtype, shape, begin, end);
    }

    private static void checkNoOverlap(Path path, Map<String, Entry> entries) {
        List<Entry> sorted = new ArrayList<>(entries.values());
        sorted.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        Entry previous = null;
        for (Entry e : sorted) {
            if (e.begin() == e.end()) {
                continue; // empty tensors occupy no bytes
            }
            if (previous != null && e.begin() < previous.end()) {
                throw new SafetensorsException(path, e.name(), "byte range [" + e.begin() + ", " + e.end()
                        + ") overlaps tensor '" + previous.name() + "' [" + previous.begin() + ", " + previous.end() + ")");
            }
            previous = e;
        }
    }

    public Path path() {
        return path;
    }

    public Set<String> names() {
        return entries.keySet();
    }

    public boolean contains(String name) {
        return entries.containsKey(name);
    }

    public Map<String, Entry> entries() {
        return entries;
    }

    public Map<String, String> metadata() {
        return Collections.unmodifiableMap(metadata);
    }

    /** A zero-copy view of tensor {@code name}; valid until this file is closed. */
    public Tensor tensor(String name) {
        Entry e = entries.get(name);
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
