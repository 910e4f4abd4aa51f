package io.jdiffusion.server.api;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Typed reads of a JSON request object with pydantic's lax rules, as AUTOMATIC1111's FastAPI models apply
 * them: a missing or null field takes its default, fields not read are ignored, an integer field takes
 * integers, integral floats and numeric strings, a number field takes numbers and numeric strings, a string
 * field takes only strings. Anything else is an {@link InvalidRequestException} naming the field.
 */
public final class JsonFields {
    /** Strings up to the largest body the server accepts (base64 images are long strings). */
    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .build();

    static {
        MAPPER.getFactory().setStreamReadConstraints(StreamReadConstraints.builder()
                .maxStringLength(Integer.MAX_VALUE - 16)
                .maxNestingDepth(64)
                .build());
    }

    private final ObjectNode node;
    private final String path;

    private JsonFields(ObjectNode node, String path) {
        this.node = node;
        this.path = path;
    }

    /** Parses a request body that must be one JSON object. */
    public static JsonFields parse(byte[] body) {
        JsonNode root;
        try {
            root = MAPPER.readTree(body);
        } catch (JsonProcessingException e) {
            throw new InvalidRequestException("body", "not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new InvalidRequestException("body", "unreadable: " + e.getMessage());
        }
        if (root == null || root.isMissingNode()) {
            throw new InvalidRequestException("body", "empty; expected a JSON object");
        }
        if (!(root instanceof ObjectNode object)) {
            throw new InvalidRequestException("body", "expected a JSON object, got " + kind(root));
        }
        return new JsonFields(object, "");
    }

    /** The request as given (for echoing it back as A1111's {@code parameters}). */
    public ObjectNode node() {
        return node;
    }

    public boolean has(String name) {
        JsonNode v = node.get(name);
        return v != null && !v.isNull();
    }

    public String string(String name, String fallback) {
        JsonNode v = value(name);
        if (v == null) {
            return fallback;
        }
        if (!v.isTextual()) {
            throw wrongType(name, "a string", v);
        }
        return v.textValue();
    }

    public int integer(String name, int fallback) {
        long v = longInteger(name, fallback);
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
            throw new InvalidRequestException(where(name), "integer out of range: " + v);
        }
        return (int) v;
    }

    public long longInteger(String name, long fallback) {
        JsonNode v = value(name);
        if (v == null) {
            return fallback;
        }
        BigDecimal d = decimal(name, v, "an integer");
        if (d.precision() - d.scale() > 19) {
            throw new InvalidRequestException(where(name), "integer out of range: " + v);
        }
        try {
            BigInteger i = d.toBigIntegerExact();
            return i.longValueExact();
        } catch (ArithmeticException e) {
            throw new InvalidRequestException(where(name), "expected a whole number (64-bit integer), got " + v);
        }
    }

    public float number(String name, float fallback) {
        JsonNode v = value(name);
        if (v == null) {
            return fallback;
        }
        float f = decimal(name, v, "a number").floatValue();
        if (!Float.isFinite(f)) {
            throw new InvalidRequestException(where(name), "number out of range: " + v);
        }
        return f;
    }

    public boolean bool(String name, boolean fallback) {
        JsonNode v = value(name);
        if (v == null) {
            return fallback;
        }
        if (v.isBoolean()) {
            return v.booleanValue();
        }
        if (v.isIntegralNumber() && (v.asLong() == 0 || v.asLong() == 1)) {
            return v.asLong() == 1;
        }
        if (v.isTextual()) {
            switch (v.textValue().strip().toLowerCase(Locale.ROOT)) {
                case "true", "1", "yes", "on", "t", "y" -> {
                    return true;
                }
                case "false", "0", "no", "off", "f", "n" -> {
                    return false;
                }
                default -> {
                }
            }
        }
        throw wrongType(name, "a boolean", v);
    }

    /** A list of strings; empty when missing or null. */
    public List<String> strings(String name) {
        JsonNode v = value(name);
        if (v == null) {
            return List.of();
        }
        if (!v.isArray()) {
            throw wrongType(name, "a list of strings", v);
        }
        List<String> out = new ArrayList<>(v.size());
        for (int i = 0; i < v.size(); i++) {
            JsonNode item = v.get(i);
            if (!item.isTextual()) {
                throw new InvalidRequestException(where(name) + "[" + i + "]", "expected a string, got " + kind(item));
            }
            out.add(item.textValue());
        }
        return out;
    }

    /** A nested object (e.g. override_settings); an empty one when missing or null. */
    public JsonFields object(String name) {
        JsonNode v = value(name);
        if (v == null) {
            return new JsonFields(MAPPER.createObjectNode(), where(name) + ".");
        }
        if (!(v instanceof ObjectNode o)) {
            throw wrongType(name, "an object", v);
        }
        return new JsonFields(o, where(name) + ".");
    }

    /** The full name of a field for error messages: nested fields carry their parent's name. */
    public String where(String name) {
        return path + name;
    }

    private JsonNode value(String name) {
        JsonNode v = node.get(name);
        return v == null || v.isNull() ? null : v;
    }

    private BigDecimal decimal(String name, JsonNode v, String expected) {
        if (v.isNumber()) {
            if (v.isFloatingPointNumber() && !v.isBigDecimal() && !Double.isFinite(v.doubleValue())) {
                throw new InvalidRequestException(where(name), "number out of range: " + v.asText());
            }
            return v.decimalValue();
        }
        if (v.isTextual()) {
            try {
                return new BigDecimal(v.textValue().strip());
            } catch (NumberFormatException e) {
                throw wrongType(name, expected, v);
            }
        }
        throw wrongType(name, expected, v);
    }

    private InvalidRequestException wrongType(String name, String expected, JsonNode v) {
        return new InvalidRequestException(where(name), "expected " + expected + ", got " + kind(v));
    }

    private static String kind(JsonNode v) {
        return switch (v.getNodeType()) {
            case STRING -> "a string";
            case NUMBER -> "the number " + v.asText();
            case BOOLEAN -> "a boolean";
            case ARRAY -> "a list";
            case OBJECT -> "an object";
            default -> v.getNodeType().name().toLowerCase(Locale.ROOT);
        };
    }

    /** The shared mapper for writing responses. */
    public static ObjectMapper mapper() {
        return MAPPER;
    }
}
