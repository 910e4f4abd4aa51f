package io.jdiffusion.server;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.core.io.FileHashes;
import io.jdiffusion.server.api.JsonFields;
import io.jdiffusion.server.api.RequestLimits;
import io.jdiffusion.server.jobs.CheckpointFolder;
import io.jdiffusion.testdata.GoldenSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A models folder with the tiny SD 1.5- and SD 2-shaped models (diffusers folders), a file that is no
 * checkpoint, a text file and a link leading out of the folder: listing, switching by options and per
 * request, a failing load that keeps the loaded model, and names that try to reach outside the folder.
 */
class CheckpointsTest {
    private static final String SMALL = "\"width\": 32, \"height\": 32, \"steps\": 1, \"seed\": 5";
    @TempDir
    static Path temp;
    static Path models;
    static FileHashes hashes;
    static TinyServer tiny;

    @BeforeAll
    static void start() throws IOException {
        models = Files.createDirectory(temp.resolve("models"));
        copy(GoldenSet.TINY_SD.modelDir(), models.resolve("tiny-sd"));
        copy(GoldenSet.TINY_SD2.modelDir(), models.resolve("tiny-sd2"));
        Files.write(models.resolve("broken.safetensors"), new byte[]{8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '});
        Files.writeString(models.resolve("notes.txt"), "not a checkpoint");
        Path outside = Files.createDirectory(temp.resolve("elsewhere"));
        copy(GoldenSet.TINY_SD.modelDir(), outside.resolve("secret"));
        Files.createSymbolicLink(models.resolve("linked-out"), outside.resolve("secret"));
        hashes = new FileHashes(temp.resolve("hashes.json"));
        hashes.sha256(models.resolve("broken.safetensors"));
        tiny = new TinyServer(4, null, RequestLimits.DEFAULTS, new CheckpointFolder(models, models.resolve("tiny-sd"), hashes));
    }

    @AfterAll
    static void stop() {
        tiny.close();
    }

    @Test
    void everyCheckpointIsListedWithA1111sFieldsAndNoLocalPath() throws Exception {
        HttpResponse<String> r = tiny.get("/sdapi/v1/sd-models");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).doesNotContain(temp.toString()).doesNotContain(temp.toRealPath().toString())
                .doesNotContain("linked-out").doesNotContain("notes");
        JsonNode list = TinyServer.json(r);
        List<String> names = new ArrayList<>();
        list.forEach(m -> names.add(m.get("model_name").asText()));
        assertThat(names).containsExactly("broken", "tiny-sd", "tiny-sd2");
        String sha = hashes.sha256(models.resolve("broken.safetensors"));
        JsonNode broken = list.get(0);
        assertThat(broken.get("title").asText()).isEqualTo("broken.safetensors [" + sha.substring(0, 10) + "]");
        assertThat(broken.get("hash").asText()).isEqualTo(sha.substring(0, 10));
        assertThat(broken.get("sha256").asText()).isEqualTo(sha);
        assertThat(broken.get("filename").asText()).isEqualTo("broken.safetensors");
        JsonNode sd2 = list.get(2);
        assertThat(sd2.get("title").asText()).isEqualTo("tiny-sd2");
        assertThat(sd2.get("hash").isNull()).isTrue();
        assertThat(sd2.get("filename").asText()).isEqualTo("tiny-sd2");
    }

    @Test
    void optionsSwitchTheLoadedCheckpointAndAFailingLoadKeepsIt() throws Exception {
        try {
            assertThat(setCheckpoint("tiny-sd2").statusCode()).isEqualTo(200);
            assertThat(loadedTitle()).isEqualTo("tiny-sd2");
            assertThat(modelOfTxt2img("{" + SMALL + "}")).isEqualTo("tiny-sd2");

            String sha = hashes.sha256(models.resolve("broken.safetensors"));
            for (String asked : new String[]{"broken.safetensors", "broken", sha.substring(0, 10), sha}) {
                HttpResponse<String> failed = setCheckpoint(asked);
                assertThat(failed.statusCode()).as(asked).isEqualTo(500);
                assertThat(failed.body()).contains("CheckpointLoadError", "broken.safetensors", "'tiny-sd2' stays loaded")
                        .doesNotContain(temp.toString()).doesNotContain(temp.toRealPath().toString());
                assertThat(loadedTitle()).isEqualTo("tiny-sd2");
            }
            assertThat(modelOfTxt2img("{" + SMALL + "}")).isEqualTo("tiny-sd2");
        } finally {
            setCheckpoint("tiny-sd");
        }
    }

    @Test
    void noNameReachesOutsideTheFolder() throws Exception {
        for (String asked : new String[]{"../elsewhere/secret", "linked-out", "notes.txt", "tiny-sd/../tiny-sd2",
                temp.resolve("elsewhere/secret").toString(), models.resolve("tiny-sd2").toString(), "/etc/passwd", ""}) {
            HttpResponse<String> r = setCheckpoint(asked);
            assertThat(r.statusCode()).as(asked).isEqualTo(404);
            HttpResponse<String> job = tiny.post("/sdapi/v1/txt2img", "{" + SMALL + ", \"override_settings\": {\"sd_model_checkpoint\": "
                    + JsonFields.mapper().writeValueAsString(asked) + "}}");
            assertThat(job.statusCode()).as(asked).isEqualTo(404);
            assertThat(job.body()).contains("sd_model_checkpoint");
        }
        assertThat(loadedTitle()).isEqualTo("tiny-sd");
    }

    @Test
    void overrideSettingsSwitchForOneRequestAndRestoreAfterwards() throws Exception {
        String sd1 = image("{" + SMALL + "}");
        String sd2 = image("{" + SMALL + ", \"override_settings\": {\"sd_model_checkpoint\": \"tiny-sd2\"}}");
        assertThat(sd2).isNotEqualTo(sd1);
        assertThat(loadedTitle()).isEqualTo("tiny-sd");
        assertThat(modelOfTxt2img("{" + SMALL + ", \"override_settings\": {\"sd_model_checkpoint\": \"tiny-sd2\"}}"))
                .isEqualTo("tiny-sd2");
        try {
            String kept = image("{" + SMALL + ", \"override_settings\": {\"sd_model_checkpoint\": \"tiny-sd2\"},"
                    + " \"override_settings_restore_afterwards\": false}");
            assertThat(kept).isEqualTo(sd2);
            assertThat(loadedTitle()).isEqualTo("tiny-sd2");
            // Back on the first model, the same request makes the same image as before the switches.
            assertThat(setCheckpoint("tiny-sd").statusCode()).isEqualTo(200);
            assertThat(image("{" + SMALL + "}")).isEqualTo(sd1);
            HttpResponse<String> failed = tiny.post("/sdapi/v1/txt2img", "{" + SMALL
                    + ", \"override_settings\": {\"sd_model_checkpoint\": \"broken\"}}");
            assertThat(failed.statusCode()).isEqualTo(500);
            assertThat(failed.body()).contains("cannot load checkpoint 'broken.safetensors'");
            assertThat(loadedTitle()).isEqualTo("tiny-sd");
        } finally {
            setCheckpoint("tiny-sd");
        }
    }

    private static HttpResponse<String> setCheckpoint(String asked) throws Exception {
        return tiny.post("/sdapi/v1/options", "{\"sd_model_checkpoint\": " + JsonFields.mapper().writeValueAsString(asked) + "}");
    }

    private static String loadedTitle() throws Exception {
        return TinyServer.json(tiny.get("/sdapi/v1/options")).get("sd_model_checkpoint").asText();
    }

    private static String modelOfTxt2img(String body) throws Exception {
        HttpResponse<String> r = tiny.post("/sdapi/v1/txt2img", body);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonNode info = JsonFields.mapper().readTree(TinyServer.json(r).get("info").asText());
        assertThat(info.get("infotexts").get(0).asText()).contains("Model: " + info.get("sd_model_name").asText());
        return info.get("sd_model_name").asText();
    }

    private static String image(String body) throws Exception {
        HttpResponse<String> r = tiny.post("/sdapi/v1/txt2img", body);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        byte[] png = java.util.Base64.getDecoder().decode(TinyServer.json(r).get("images").get(0).asText());
        java.awt.image.BufferedImage image = javax.imageio.ImageIO.read(new java.io.ByteArrayInputStream(png));
        return java.util.Arrays.toString(image.getRGB(0, 0, image.getWidth(), image.getHeight(), null, 0, image.getWidth()));
    }

    private static void copy(Path from, Path to) throws IOException {
        try (Stream<Path> files = Files.walk(from)) {
            for (Path p : files.toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target);
                }
            }
        }
    }
}
