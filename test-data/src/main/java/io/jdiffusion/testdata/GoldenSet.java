package io.jdiffusion.testdata;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jdiffusion.core.safetensors.SafetensorsFile;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;

/**
 * One bundled tiny model with its diffusers goldens ({@code model/} in diffusers layout, {@code golden/index.json}
 * describing every case, {@code README.md} saying how they were made): tiny-sd (SD 1.5-shaped), tiny-sd2
 * (SD 2.x: v-prediction, OpenCLIP-style text encoder, linear projections) and tiny-sdxl (two text encoders,
 * added conditioning).
 */
public record GoldenSet(String name) {
    public static final GoldenSet TINY_SD = new GoldenSet("tiny-sd");
    public static final GoldenSet TINY_SD2 = new GoldenSet("tiny-sd2");
    public static final GoldenSet TINY_SDXL = new GoldenSet("tiny-sdxl");
    private static final ObjectMapper JSON = new ObjectMapper();

    public Path dir() {
        return TinySd.root().resolve(name);
    }

    /** The tiny model in diffusers layout. */
    public Path modelDir() {
        return dir().resolve("model");
    }

    public Path goldenDir() {
        return dir().resolve("golden");
    }

    /** A golden file, e.g. {@code unet.safetensors}; the caller closes it. */
    public SafetensorsFile golden(String fileName) {
        return SafetensorsFile.open(goldenDir().resolve(fileName));
    }

    /** {@code golden/index.json}: the description of every golden case. */
    public JsonNode index() {
        try {
            return JSON.readTree(goldenDir().resolve("index.json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The case named {@code caseName} from the index. */
    public JsonNode goldenCase(String caseName) {
        for (JsonNode c : index().get("cases")) {
            if (c.get("name").asText().equals(caseName)) {
                return c;
            }
        }
        throw new IllegalArgumentException("no golden case " + caseName + " in " + name);
    }

    /** Names of the golden cases, in index order. */
    public List<String> caseNames() {
        return index().get("cases").findValuesAsText("name");
    }

    /** The golden tensor {@code role} of case {@code c} from the open file {@code f} (the index names its key). */
    public static io.jdiffusion.core.Tensor tensor(SafetensorsFile f, JsonNode c, String role) {
        JsonNode spec = c.get("tensors").get(role);
        if (spec == null) {
            throw new IllegalArgumentException("golden case " + c.get("name").asText() + " has no tensor " + role);
        }
        return f.tensor(spec.get("key").asText());
    }
}
