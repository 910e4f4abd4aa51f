package io.jdiffusion.testdata;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jdiffusion.core.safetensors.SafetensorsFile;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.List;
import java.util.stream.Stream;

/**
 * The bundled tiny SD 1.5-shaped model and its golden outputs made by diffusers (see the README in
 * {@code tiny-sd/}). Files are read where they lie when the class path is a folder; from a jar they are
 * extracted once to {@code ~/.cache/jdiffusion/} (memory mapping needs real files).
 */
public final class TinySd {
    private static final String ROOT = "io/jdiffusion/testdata/";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static volatile Path extracted;

    private TinySd() {
    }

    /** The folder holding every {@link GoldenSet}'s folder ({@code tiny-sd/}, ...) and {@code sd15-keys/}. */
    public static synchronized Path root() {
        if (extracted != null) {
            return extracted;
        }
        URL url = TinySd.class.getClassLoader().getResource(ROOT + "tiny-sd/model/model_index.json");
        if (url == null) {
            throw new IllegalStateException("the tiny model is not on the class path (jdiffusion-test-data missing)");
        }
        try {
            if (url.getProtocol().equals("file")) {
                extracted = Path.of(url.toURI()).getParent().getParent().getParent();
            } else {
                extracted = extractFromJar(url);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot unpack the bundled tiny model", e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
        return extracted;
    }

    /**
     * Another bundled set beside {@code tiny-sd/}, e.g. {@code tiny-sd-inpaint} (its {@code model/}, {@code golden/}
     * and README, in the same layout).
     */
    public static Path set(String name) {
        Path dir = root().resolve(name);
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("no bundled test-data set " + name + " under " + root());
        }
        return dir;
    }

    /** The tiny model in diffusers layout. */
    public static Path modelDir() {
        return GoldenSet.TINY_SD.modelDir();
    }

    public static Path goldenDir() {
        return GoldenSet.TINY_SD.goldenDir();
    }

    /** A golden file, e.g. {@code unet.safetensors}; the caller closes it. */
    public static SafetensorsFile golden(String fileName) {
        return GoldenSet.TINY_SD.golden(fileName);
    }

    /** The tiny-sd-lora set: {@code lora/tiny_lora.safetensors} and {@code golden/} for the tiny model. */
    public static Path loraSetDir() {
        return root().resolve("tiny-sd-lora");
    }

    /** {@code golden/index.json}: the description of every golden case. */
    public static JsonNode index() {
        return GoldenSet.TINY_SD.index();
    }

    /** The case named {@code name} from the index. */
    public static JsonNode goldenCase(String name) {
        return GoldenSet.TINY_SD.goldenCase(name);
    }

    /** Full SD 1.5 tensor names and shapes: {@code sd15_keys_diffusers.json} or {@code sd15_keys_ldm.json}. */
    public static JsonNode sd15Keys(String fileName) {
        return readJson(root().resolve("sd15-keys").resolve(fileName));
    }

    /** Full SD 2.1 (768-v) single-file tensor names and shapes ({@code sd21-keys/sd21_keys_ldm.json}, see its script). */
    public static JsonNode sd21LdmKeys() {
        return readJson(root().resolve("sd21-keys").resolve("sd21_keys_ldm.json"));
    }

    private static JsonNode readJson(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Path extractFromJar(URL url) throws IOException, URISyntaxException {
        String spec = url.toString();
        String jar = spec.substring("jar:".length(), spec.indexOf("!/"));
        Path jarPath = Path.of(new java.net.URI(jar));
        String stamp = Long.toHexString(Files.size(jarPath) ^ Files.getLastModifiedTime(jarPath).toMillis());
        Path target = Path.of(System.getProperty("user.home"), ".cache", "jdiffusion", "tiny-sd-" + stamp);
        if (Files.isRegularFile(target.resolve("complete"))) {
            return target;
        }
        Path tmp = Files.createDirectories(target.getParent()).resolve(target.getFileName() + ".tmp" + ProcessHandle.current().pid());
        try (FileSystem fs = FileSystems.newFileSystem(jarPath, new HashMap<String, Object>())) {
            Path src = fs.getPath("/" + ROOT);
            try (Stream<Path> walk = Files.walk(src)) {
                for (Path p : (Iterable<Path>) walk::iterator) {
                    Path dst = tmp.resolve(src.relativize(p).toString());
                    if (Files.isDirectory(p)) {
                        Files.createDirectories(dst);
                    } else if (!p.toString().endsWith(".class")) {
                        try (InputStream in = Files.newInputStream(p)) {
                            Files.copy(in, dst, StandardCopyOption.REPLACE_EXISTING);
                        }
                    }
                }
            }
        }
        Files.writeString(tmp.resolve("complete"), "ok");
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            if (!Files.isRegularFile(target.resolve("complete"))) {
                throw e;
            }
            TestFiles.deleteTree(tmp); // another process finished first
        }
        return target;
    }

    /** Names of the golden cases, in index order. */
    public static List<String> caseNames() {
        return GoldenSet.TINY_SD.caseNames();
    }
}
