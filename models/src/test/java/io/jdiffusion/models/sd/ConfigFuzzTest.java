package io.jdiffusion.models.sd;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.core.testing.FuzzContract;
import io.jdiffusion.models.config.ClipTextConfig;
import io.jdiffusion.models.config.ConfigJson;
import io.jdiffusion.models.config.ModelLoadException;
import io.jdiffusion.models.config.UNetConfig;
import io.jdiffusion.models.config.VaeConfig;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * model_index.json and the component config.json readers under the fuzzer: each reader, on the same
 * bytes, accepts them or refuses with a {@link ModelLoadException} naming the file. Seeds: the tiny
 * models' and SD's configs and one file per corruption class, in
 * src/test/resources/io/jdiffusion/models/sd/ConfigFuzzTestInputs/configReaders.
 */
class ConfigFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void configReaders(byte[] input) {
        JsonNode[] tree = new JsonNode[1];
        FuzzContract.check(ModelLoadException.class, input.length, () -> tree[0] = ConfigJson.parseTree("config.json", input));
        if (tree[0] == null) {
            return;
        }
        FuzzContract.check(ModelLoadException.class, input.length, () -> DiffusersFolder.checkModelIndex("model", tree[0]));
        FuzzContract.check(ModelLoadException.class, input.length, () -> UNetConfig.fromJson(new ConfigJson("unet/config.json", tree[0])));
        FuzzContract.check(ModelLoadException.class, input.length, () -> VaeConfig.fromJson(new ConfigJson("vae/config.json", tree[0])));
        FuzzContract.check(ModelLoadException.class, input.length,
                () -> ClipTextConfig.fromJson(new ConfigJson("text_encoder/config.json", tree[0])));
    }

    /** Every bad-* seed is one corruption class: some reader refuses it, in one line naming the file. */
    @Test
    void everyCorruptionClassInTheSeedCorpusIsRefused() throws Exception {
        Path seeds = Path.of(ConfigFuzzTest.class.getResource("ConfigFuzzTestInputs/configReaders").toURI());
        try (Stream<Path> files = Files.list(seeds)) {
            for (Path seed : files.sorted().toList()) {
                String name = seed.getFileName().toString();
                if (name.startsWith("valid-")) {
                    assertThat(ConfigJson.read(seed).source()).isEqualTo(seed.toString());
                    continue;
                }
                List<String> refusals = new ArrayList<>();
                try {
                    JsonNode tree = ConfigJson.readTree(seed);
                    for (Runnable reader : List.<Runnable>of(() -> DiffusersFolder.checkModelIndex(seed.toString(), tree),
                            () -> UNetConfig.fromJson(new ConfigJson(seed.toString(), tree)),
                            () -> VaeConfig.fromJson(new ConfigJson(seed.toString(), tree)),
                            () -> ClipTextConfig.fromJson(new ConfigJson(seed.toString(), tree)))) {
                        try {
                            reader.run();
                        } catch (ModelLoadException e) {
                            refusals.add(e.getMessage());
                        }
                    }
                } catch (ModelLoadException e) {
                    refusals.add(e.getMessage());
                }
                assertThat(refusals).as(name).isNotEmpty().allSatisfy(m -> assertThat(m).startsWith(seed.toString()).doesNotContain("\n"));
            }
        }
    }
}
