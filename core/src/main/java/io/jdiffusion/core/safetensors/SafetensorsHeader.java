package io.jdiffusion.core.safetensors;

import io.jdiffusion.core.OneLine;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The validated header of a safetensors file, parsed from the file's bytes: every entry's dtype, shape and
 * byte range, and the metadata. It holds the reference implementation's rules: the JSON object starts
 * the header, names are unique, each range holds exactly shape x dtype bytes, and the ranges tile the data
 * from its first byte to its last, with no gap, overlap or trailing byte.
 *
 * @param entries   the tensors by name, in header order
 * @param metadata  the {@code __metadata__} strings
 * @param dataStart the file offset of the first data byte (8 + the header length)
 */
public record SafetensorsHeader(Map<String, SafetensorsHeader.Entry> entries, Map<String, String> metadata, long dataStart) {
    /** The reference implementation's bound; larger headers are refused before anything is read. */
    public static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

    /** Shapes of more dimensions than this are refused (a tensor of SD has at most 4). */
    private static final int MAX_RANK = 16;

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .build();

    static {
        // a 100 MiB header may hold one long string (metadata); nesting stays shallow in any real header
        JSON.getFactory().setStreamReadConstraints(StreamReadConstraints.builder()
                .maxStringLength((int) MAX_HEADER_BYTES).maxNestingDepth(64).build());
    }

    /** One validated header entry: {@code [begin, end)} is relative to the first data byte. */
    public record Entry(String name, DType dtype, Shape shape, long begin, long end) {
    }

    /**
     * Parses and validates the header of the safetensors file whose bytes are {@code file}; {@code path}
     * only names the file in messages.
     *
     * @throws SafetensorsException naming the file and the problem
     */
    public static SafetensorsHeader parse(Path path, MemorySegment file) {
        long fileSize = file.byteSize();
        refusePickle(path, file);
        if (fileSize < 8) {
            throw new SafetensorsException(path, "file is " + fileSize + " bytes, too short for the 8-byte header length");
        }
        long headerLen = file.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (headerLen < 2 || headerLen > MAX_HEADER_BYTES) {
            throw new SafetensorsException(path, "header length " + Long.toUnsignedString(headerLen)
                    + " is outside [2, " + MAX_HEADER_BYTES + "]");
        }
        if (8 + headerLen > fileSize) {
            throw new SafetensorsException(path, "header length " + headerLen + " runs past the end of the "
                    + fileSize + "-byte file (truncated?)");
        }
        byte[] headerBytes = file.asSlice(8, headerLen).toArray(ValueLayout.JAVA_BYTE);
        if (headerBytes[0] != '{') {
            throw new SafetensorsException(path, "header is not a JSON object: it does not start with '{'");
        }
        String header = decodeUtf8(path, headerBytes);
        long dataBytes = fileSize - 8 - headerLen;
        Map<String, String> metadata = new LinkedHashMap<>();
        Map<String, Entry> entries = parseJson(path, header, dataBytes, metadata);
        return new SafetensorsHeader(entries, Collections.unmodifiableMap(metadata), 8 + headerLen);
    }

    /** A PyTorch checkpoint under any name: a zip archive (torch.save's format) or a bare pickle stream. */
    private static void refusePickle(Path path, MemorySegment file) {
        long n = file.byteSize();
        byte b0 = n > 0 ? file.get(ValueLayout.JAVA_BYTE, 0) : 0;
        byte b1 = n > 1 ? file.get(ValueLayout.JAVA_BYTE, 1) : 0;
        boolean zip = n >= 4 && b0 == 'P' && b1 == 'K' && file.get(ValueLayout.JAVA_BYTE, 2) == 3
                && file.get(ValueLayout.JAVA_BYTE, 3) == 4;
        boolean pickle = (b0 & 0xFF) == 0x80 && b1 >= 2 && b1 <= 5;
        if (zip || pickle) {
            throw new SafetensorsException(path, "is a PyTorch pickle checkpoint (" + (zip ? "zip archive" : "pickle stream")
                    + "), not safetensors: loading a pickle can run arbitrary code, so jdiffusion refuses it");
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

    private static Map<String, Entry> parseJson(Path path, String header, long dataBytes, Map<String, String> metadata) {
        JsonNode root;
        try {
            root = JSON.readTree(header);
        } catch (JsonProcessingException e) {
            throw new SafetensorsException(path, "header is not well-formed JSON: " + oneLine(e.getOriginalMessage()));
        }
        if (root == null || !root.isObject()) {
            throw new SafetensorsException(path, "header is not a JSON object");
        }
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> field : root.properties()) {
            String name = field.getKey();
            if (name.equals("__metadata__")) {
                readMetadata(path, field.getValue(), metadata);
            } else {
                entries.put(name, parseEntry(path, name, field.getValue(), dataBytes));
            }
        }
        checkTiling(path, entries, dataBytes);
        return Collections.unmodifiableMap(entries);
    }

    private static String oneLine(String s) {
        return s == null ? "" : OneLine.flatten(s);
    }

    private static void readMetadata(Path path, JsonNode node, Map<String, String> metadata) {
        if (!node.isObject()) {
            throw new SafetensorsException(path, "__metadata__ is not an object");
        }
        for (Map.Entry<String, JsonNode> m : node.properties()) {
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
        if (shapeNode.size() > MAX_RANK) {
            throw new SafetensorsException(path, name, "shape has " + shapeNode.size() + " dimensions, more than " + MAX_RANK);
        }
        long[] dims = new long[shapeNode.size()];
        for (int i = 0; i < dims.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.asLong() < 0) {
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
        } catch (IllegalArgumentException e) {
            throw new SafetensorsException(path, name, "shape " + shapeNode + " is invalid: " + e.getMessage());
        }
        JsonNode offsets = node.get("data_offsets");
        if (offsets == null || !offsets.isArray() || offsets.size() != 2
                || !offsets.get(0).isIntegralNumber() || !offsets.get(1).isIntegralNumber()
                || !offsets.get(0).canConvertToLong() || !offsets.get(1).canConvertToLong()) {
            throw new SafetensorsException(path, name, "data_offsets must be two integers, got " + abbreviate(offsets));
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

    private static String abbreviate(JsonNode node) {
        String s = String.valueOf(node);
        return s.length() <= 80 ? s : s.substring(0, 77) + "...";
    }

    /** The byte ranges, in order, must cover the data exactly: each starts where the previous one ended. */
    private static void checkTiling(Path path, Map<String, Entry> entries, long dataBytes) {
        List<Entry> sorted = new ArrayList<>(entries.values());
        sorted.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long covered = 0;
        Entry previous = null;
        for (Entry e : sorted) {
            if (e.begin() < covered) {
                throw new SafetensorsException(path, e.name(), "byte range [" + e.begin() + ", " + e.end()
                        + ") overlaps tensor '" + previous.name() + "' [" + previous.begin() + ", " + previous.end() + ")");
            }
            if (e.begin() > covered) {
                throw new SafetensorsException(path, e.name(), "byte range [" + e.begin() + ", " + e.end() + ") leaves a "
                        + (e.begin() - covered) + "-byte gap after " + (previous == null ? "the header"
                        : "tensor '" + previous.name() + "'") + " that no tensor covers");
            }
            covered = e.end();
            previous = e;
        }
        if (covered != dataBytes) {
            throw new SafetensorsException(path, (dataBytes - covered) + " trailing bytes after the last tensor's data"
                    + " that no tensor covers");
        }
    }
}
