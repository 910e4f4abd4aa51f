package io.jdiffusion.models.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.core.safetensors.SafetensorsFile;
import io.jdiffusion.models.config.ModelLoadException;
import io.jdiffusion.testdata.TinySd;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link ClipTokenizer} against transformers 5's CLIPTokenizer outputs in the golden set. */
class ClipTokenizerTest {
    private static final ClipTokenizer TOKENIZER = ClipTokenizer.load(TinySd.modelDir().resolve("tokenizer"));

    private static long[] goldenIds(JsonNode c) {
        try (SafetensorsFile f = TinySd.golden("tokenizer.safetensors")) {
            return f.tensor(c.get("tensors").get("input_ids").get("key").asText()).toLongArray();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tokenizer_00", "tokenizer_01", "tokenizer_02", "tokenizer_03", "tokenizer_04",
            "tokenizer_05", "tokenizer_06", "tokenizer_07", "tokenizer_08", "tokenizer_09", "tokenizer_10",
            "tokenizer_11", "tokenizer_12"})
    void matchesTransformers(String caseName) {
        JsonNode c = TinySd.goldenCase(caseName);
        String prompt = c.get("prompt").asText();

        assertThat(TOKENIZER.encode(prompt)).as("input_ids of %s", caseName).containsExactly(goldenIds(c));

        long[] untruncated = new long[c.get("untruncated_ids").size()];
        for (int i = 0; i < untruncated.length; i++) {
            untruncated[i] = c.get("untruncated_ids").get(i).asLong();
        }
        assertThat(TOKENIZER.untruncatedIds(prompt)).as("untruncated ids of %s", caseName).containsExactly(untruncated);
        assertThat(TOKENIZER.untruncatedLength(prompt)).isEqualTo(c.get("untruncated_len").asInt());

        List<String> tokens = new ArrayList<>();
        c.get("tokens").forEach(t -> tokens.add(t.asText()));
        assertThat(TOKENIZER.tokens(prompt)).as("tokens of %s", caseName).containsExactlyElementsOf(tokens);

        boolean truncated = c.get("truncated").asBoolean();
        assertThat(TOKENIZER.untruncatedLength(prompt) > TOKENIZER.maxLength()).isEqualTo(truncated);
        assertThat(TOKENIZER.removedByTruncation(prompt).isEmpty()).isEqualTo(!truncated);
    }

    @Test
    void batchRowsAreEncodedIndependently() {
        JsonNode c = TinySd.goldenCase("tokenizer_batch");
        long[] golden = goldenIds(c);
        assertThat(golden).hasSize(2 * 77);
        for (int row = 0; row < 2; row++) {
            String prompt = c.get("prompts").get(row).asText();
            assertThat(TOKENIZER.encode(prompt)).containsExactly(Arrays.copyOfRange(golden, row * 77, row * 77 + 77));
        }
    }

    @Test
    void specialIdsAndLengthComeFromTheFolder() {
        JsonNode info = TinySd.index().get("generator").get("tokenizer");
        assertThat(TOKENIZER.bosId()).isEqualTo(info.get("bos_id").asInt());
        assertThat(TOKENIZER.eosId()).isEqualTo(info.get("eos_id").asInt());
        assertThat(TOKENIZER.padId()).isEqualTo(info.get("pad_id").asInt());
        assertThat(TOKENIZER.vocabSize()).isEqualTo(info.get("vocab_size").asInt());
        assertThat(TOKENIZER.maxLength()).isEqualTo(77);
    }

    /** The long prompt keeps BOS + 75 ids + EOS; the warning text is what was cut, and it decodes back to words. */
    @Test
    void truncationKeepsEosLastAndReportsTheDroppedText() {
        JsonNode c = TinySd.goldenCase("tokenizer_10");
        String prompt = c.get("prompt").asText();
        long[] ids = TOKENIZER.encode(prompt);
        long[] all = TOKENIZER.untruncatedIds(prompt);
        assertThat(ids[76]).isEqualTo(TOKENIZER.eosId());
        assertThat(Arrays.copyOfRange(ids, 0, 76)).containsExactly(Arrays.copyOfRange(all, 0, 76));
        // diffusers decodes untruncated_ids[76:-1]; CLIP's decoding ends every word-final token with a space
        StringBuilder dropped = new StringBuilder();
        for (int i = 76; i < c.get("tokens").size() - 1; i++) {
            dropped.append(c.get("tokens").get(i).asText());
        }
        String removed = TOKENIZER.removedByTruncation(prompt);
        assertThat(removed).isEqualTo(dropped.toString().replace("</w>", " ").strip());
        assertThat(removed).startsWith("mountains in the distance , dramatic").endsWith("8 k , sharp focus");
        assertThat(prompt.replace(" ", "")).endsWith(removed.replace(" ", ""));
    }

    @Test
    void repeatedCallsGiveTheSameIds() {
        String prompt = "a photograph of an astronaut riding a horse, a horse";
        assertThat(TOKENIZER.encode(prompt)).containsExactly(TOKENIZER.encode(prompt));
    }

    @Test
    void missingFileIsNamed(@TempDir Path dir) throws IOException {
        Files.copy(TinySd.modelDir().resolve("tokenizer/vocab.json"), dir.resolve("vocab.json"));
        assertThatThrownBy(() -> ClipTokenizer.load(dir)).isInstanceOf(ModelLoadException.class)
                .hasMessage(dir.resolve("merges.txt") + ": CLIP tokenizer file does not exist");
    }

    @Test
    void mergeIntoUnknownTokenIsRejected(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("vocab.json"), "{\"a\": 0, \"b</w>\": 1, \"<|startoftext|>\": 2, \"<|endoftext|>\": 3}");
        Files.writeString(dir.resolve("merges.txt"), "#version: 0.2\na b</w>\n");
        assertThatThrownBy(() -> ClipTokenizer.load(dir)).isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("line 2").hasMessageContaining("ab</w>");
    }

    @Test
    void nullPromptIsRejected() {
        assertThatThrownBy(() -> TOKENIZER.encode(null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("null");
    }
}
