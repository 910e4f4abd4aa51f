package io.jdiffusion.models.config;

import io.jdiffusion.core.OneLine;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.jdiffusion.core.io.RegularFiles;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One diffusers/transformers {@code config.json}, read with typed getters that fall back to the
 * library's defaults for absent keys and fail naming the file and key for a value of the wrong type.
 */
public final class ConfigJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    static {
        // a config is a few kilobytes: deeper nesting or longer strings than these are not a config
        JSON.getFactory().setStreamReadConstraints(StreamReadConstraints.builder()
                .maxNestingDepth(64).maxStringLength(1 << 20).maxNumberLength(100).build());
    }

    private final String source;
    private final JsonNode root;

    public ConfigJson(String source, JsonNode root) {
        if (root == null || !root.isObject()) {
            throw new ModelLoadException(source + ": is not a JSON object");
        }
        this.source = source;
        this.root = root;
    }

    /** Reads and parses {@code file}; a missing or malformed file is a {@link ModelLoadException}. */
    public static ConfigJson read(Path file) {
        return new ConfigJson(file.toString(), readTree(file));
    }

    /** Parses a JSON file into a tree, failing with the file name and the parser's position. */
    public static JsonNode readTree(Path file) {
        String problem = RegularFiles.problem(file);
        if (problem != null) {
            throw new ModelLoadException(file + ": " + (problem.equals("does not exist") ? "file not found" : problem));
        }
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new ModelLoadException(file + ": cannot read: " + e.getMessage(), e);
        }
        return parseTree(file.toString(), bytes);
    }

    /**
     * Parses the bytes of a JSON file named {@code source} (in messages) into a tree: strict UTF-8, nesting
     * and string sizes bounded, errors as one line with the parser's position.
     */
    public static JsonNode parseTree(String source, byte[] bytes) {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new ModelLoadException(source + ": is not valid UTF-8 text");
        }
        try {
            JsonNode tree = JSON.readTree(text);
            if (tree == null || tree.isMissingNode()) {
                throw new ModelLoadException(source + ": is empty, expected a JSON object");
            }
            return tree;
        } catch (JsonProcessingException e) {
            String where = e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr() + ", column "
                    + e.getLocation().getColumnNr();
            throw new ModelLoadException(source + ": not valid JSON (" + OneLine.of(e.getOriginalMessage()) + where + ")");
        }
    }

    /** A config bundled as a class-path resource (the canonical SD configs used for single files). */
    public static ConfigJson resource(String name) {
        try (InputStream in = ConfigJson.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("missing bundled resource " + name);
            }
            return new ConfigJson("bundled " + name, JSON.readTree(in));
        } catch (IOException e) {
            throw new IllegalStateException("cannot read bundled resource " + name, e);
        }
    }

    public String source() {
        return source;
    }

    /** The parsed tree (a copy, so callers cannot change this config). */
    public ObjectNode tree() {
        return ((ObjectNode) root).deepCopy();
    }

    public boolean has(String key) {
        JsonNode n = root.get(key);
        return n != null && !n.isNull();
    }

    public int getInt(String key, int defaultValue) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            return defaultValue;
        }
        if (!n.canConvertToExactIntegral() || !n.canConvertToInt()) {
            throw wrongType(key, "an integer", n);
        }
        return n.asInt();
    }

    /** An integer that must be at least 1 (a size, a count of heads or groups): 0 would divide by zero later. */
    public int getPositiveInt(String key, int defaultValue) {
        int v = getInt(key, defaultValue);
        if (v <= 0) {
            throw wrongType(key, "a positive integer", root.get(key));
        }
        return v;
    }

    public int requireInt(String key) {
        require(key);
        return getInt(key, 0);
    }

    public float getFloat(String key, float defaultValue) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            return defaultValue;
        }
        if (!n.isNumber()) {
            throw wrongType(key, "a number", n);
        }
        return (float) n.asDouble();
    }

    public boolean getBoolean(String key, boolean defaultValue) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            return defaultValue;
        }
        if (!n.isBoolean()) {
            throw wrongType(key, "true or false", n);
        }
        return n.asBoolean();
    }

    /** A string value, or {@code defaultValue} (which may be null) when the key is absent or null. */
    public String getString(String key, String defaultValue) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            return defaultValue;
        }
        if (!n.isTextual()) {
            throw wrongType(key, "a string", n);
        }
        return n.asText();
    }

    public List<String> requireStringList(String key) {
        JsonNode n = require(key);
        if (!n.isArray() || n.isEmpty()) {
            throw wrongType(key, "a non-empty list of strings", n);
        }
        List<String> out = new ArrayList<>();
        for (JsonNode e : n) {
            if (!e.isTextual()) {
                throw wrongType(key, "a list of strings", n);
            }
            out.add(e.asText());
        }
        return List.copyOf(out);
    }

    public List<Integer> requireIntList(String key) {
        return intList(key, require(key), -1);
    }

    /**
     * A value that diffusers allows as one integer for every block or as one per block; the result has
     * {@code count} entries. Absent or null gives {@code defaultValue} for every block.
     */
    public List<Integer> getIntPerBlock(String key, int count, int defaultValue) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            return java.util.Collections.nCopies(count, defaultValue);
        }
        if (n.isArray()) {
            return intList(key, n, count);
        }
        return java.util.Collections.nCopies(count, getPositiveInt(key, defaultValue));
    }

    private List<Integer> intList(String key, JsonNode n, int count) {
        if (!n.isArray() || n.isEmpty()) {
            throw wrongType(key, "a non-empty list of integers", n);
        }
        if (count >= 0 && n.size() != count) {
            throw new ModelLoadException(source + ": '" + key + "' has " + n.size() + " entries, expected one per block ("
                    + count + ")");
        }
        List<Integer> out = new ArrayList<>();
        for (JsonNode e : n) {
            if (!e.canConvertToExactIntegral() || !e.canConvertToInt() || e.asInt() <= 0) {
                throw wrongType(key, "a list of positive integers", n);
            }
            out.add(e.asInt());
        }
        return List.copyOf(out);
    }

    private JsonNode require(String key) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            throw new ModelLoadException(source + ": required key '" + key + "' is missing");
        }
        return n;
    }

    /**
     * Fails naming the key when it is set to anything other than null or one of {@code allowed}
     * (numbers compare by value, booleans and strings exactly); {@code why} tells the user what jdiffusion supports.
     */
    public void requireUnsetOr(String key, String why, Object... allowed) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            return;
        }
        for (Object a : allowed) {
            if (a instanceof Number num && n.isNumber() && n.asDouble() == num.doubleValue()
                    || a instanceof Boolean b && n.isBoolean() && n.asBoolean() == b
                    || a instanceof String str && n.isTextual() && n.asText().equals(str)) {
                return;
            }
        }
        throw unsupported(key, n, why);
    }

    public ModelLoadException unsupported(String key, JsonNode value, String what) {
        return new ModelLoadException(source + ": '" + key + "' = " + OneLine.of(value) + " is not supported (" + what + ")");
    }

    public ModelLoadException invalid(String message) {
        return new ModelLoadException(source + ": " + message);
    }

    private ModelLoadException wrongType(String key, String expected, JsonNode got) {
        return new ModelLoadException(source + ": '" + key + "' must be " + expected + ", got " + OneLine.of(got));
    }

    public JsonNode get(String key) {
        return root.get(key);
    }
}
