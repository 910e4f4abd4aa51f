package io.jdiffusion.models.pipeline;

import io.jdiffusion.core.io.FileHashes;
import io.jdiffusion.models.sd.ModelIdentity;
import io.jdiffusion.models.testsupport.A1111InfotextParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The PNG infotext as A1111's own parser reads it back (a Java port of its rules). */
class A1111InfotextTest {
    /** SHA-256 of the three bytes "abc". */
    private static final String ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    @TempDir
    Path dir;

    private ModelIdentity checkpoint(String fileName) throws IOException {
        Path models = Files.createDirectories(dir.resolve("my models, v2: final"));
        Path file = Files.writeString(models.resolve(fileName), "abc");
        return ModelIdentity.ofFile(file, new FileHashes(dir.resolve("cache/sha256.json")));
    }

    @Test
    void aPngSaysModelHashAndNameAndNoPathAndA1111ReadsEveryValueBack() throws IOException {
        ModelIdentity model = checkpoint("dream, shaper: 8.safetensors");
        GenerationRequest request = GenerationRequest.builder().prompt("a cat, sitting\non a mat")
                .negativePrompt("blurry, lowres\nwatermark").seed(4242).sampler("dpmpp_2m").karras(true).steps(30)
                .guidanceScale(7f).size(0, 0).build();
        String text = A1111Infotext.generation(request, model, "pndm", 576, 448).put("Version", "jdiffusion 1.0").build();

        Path png = dir.resolve("out.png");
        PngWriter.write(png, new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB), Map.of("parameters", text));
        String written = PngText.read(png).get("parameters");
        assertThat(written).isEqualTo(text).doesNotContain(dir.toString()).doesNotContain("/")
                .contains("Model hash: " + ABC_SHA256.substring(0, 10) + ", Model: \"dream, shaper: 8\"");

        Map<String, String> read = A1111InfotextParser.parse(written);
        assertThat(read).containsEntry("Prompt", "a cat, sitting\non a mat")
                .containsEntry("Negative prompt", "blurry, lowres\nwatermark")
                .containsEntry("Steps", "30")
                .containsEntry("Sampler", "DPM++ 2M Karras")
                .containsEntry("CFG scale", "7")
                .containsEntry("Seed", "4242")
                .containsEntry("Size-1", "576").containsEntry("Size-2", "448")
                .containsEntry("Model hash", "ba7816bf8f")
                .containsEntry("Model", "dream, shaper: 8")
                .containsEntry("Version", "jdiffusion 1.0")
                .doesNotContainKey("Denoising strength");
    }

    @Test
    void aPromptLineStartingNegativePromptCannotStealThePrompt() {
        String prompt = "a castle\nNegative prompt: ugly\n  Negative prompt: and more\nat night";
        String text = A1111Infotext.builder(prompt, "blurry").put("Steps", 20).put("Sampler", "Euler").put("Seed", 1).build();
        Map<String, String> read = A1111InfotextParser.parse(text);
        // the CLIP tokenizers lower-case prompts, so the model read exactly this
        assertThat(read.get("Prompt")).isEqualTo("a castle\nnegative prompt: ugly\nnegative prompt: and more\nat night");
        assertThat(read.get("Prompt")).isEqualToIgnoringCase(prompt.replace("\n  ", "\n"));
        assertThat(read).containsEntry("Negative prompt", "blurry").containsEntry("Steps", "20");

        // what the text would be without the guard (A1111 writes prompts as they are) is misread: the test can fail
        String unguarded = prompt + "\nNegative prompt: blurry\nSteps: 20, Sampler: Euler, Seed: 1";
        assertThat(A1111InfotextParser.parse(unguarded).get("Prompt")).isEqualTo("a castle");
    }

    @Test
    void valuesAreQuotedAsA1111QuotesThem() {
        assertThat(A1111Infotext.quote("Euler a")).isEqualTo("Euler a");
        assertThat(A1111Infotext.quote("a, b")).isEqualTo("\"a, b\"");
        assertThat(A1111Infotext.quote("lora: 1")).isEqualTo("\"lora: 1\"");
        assertThat(A1111Infotext.quote("say \"hi\", \\o/\nbye")).isEqualTo("\"say \\\"hi\\\", \\\\o/\\nbye\"");
        assertThat(A1111Infotext.quote("猫, 犬")).isEqualTo("\"猫, 犬\"");
        String tricky = "say \"hi\", \\o/\nbye: 猫";
        String text = A1111Infotext.builder("p", "").put("Steps", 1).put("Lora hashes", "add_detail: 7c6bad76eb54, x: 1")
                .put("Note", tricky).put("Seed", 2).build();
        assertThat(A1111InfotextParser.parse(text)).containsEntry("Lora hashes", "add_detail: 7c6bad76eb54, x: 1")
                .containsEntry("Note", tricky).containsEntry("Seed", "2");
    }

    @Test
    void numbersNullsAndKeys() {
        String text = A1111Infotext.builder("", "").put("CFG scale", 7.5f).put("Denoising strength", 0.3f)
                .put("Steps", 20).put("Skipped", null).put("Seed", -1L).build();
        assertThat(text).isEqualTo("CFG scale: 7.5, Denoising strength: 0.3, Steps: 20, Seed: -1");
        assertThatThrownBy(() -> A1111Infotext.builder("", "").put("Bad: key", 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'Bad: key'");
        assertThatThrownBy(() -> A1111Infotext.builder("", "").put("x", 1)).hasMessageContaining("not one A1111 reads back");
    }

    @Test
    void modelNamesComeFromFileAndFolderNamesAndOnlyFilesHaveAHash() throws IOException {
        ModelIdentity file = checkpoint("v1-5-pruned-emaonly.safetensors");
        assertThat(file.name()).isEqualTo("v1-5-pruned-emaonly");
        assertThat(file.hashKnown()).isFalse();
        assertThat(file.autoV2Hash()).contains("ba7816bf8f");
        assertThat(file.hashKnown()).isTrue();
        // another process (a new identity) finds the hash in the cache without reading the file
        assertThat(ModelIdentity.ofFile(file.hashedFile().orElseThrow(), new FileHashes(dir.resolve("cache/sha256.json")))
                .hashKnown()).isTrue();
        ModelIdentity folder = ModelIdentity.ofFolder(dir.resolve("stable-diffusion-v1-5/."));
        assertThat(folder.name()).isEqualTo("stable-diffusion-v1-5");
        assertThat(folder.autoV2Hash()).isEmpty();
        assertThat(folder.hashKnown()).isTrue();
    }
}
