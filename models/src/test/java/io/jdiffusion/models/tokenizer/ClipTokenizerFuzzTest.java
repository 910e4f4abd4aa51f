package io.jdiffusion.models.tokenizer;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.jdiffusion.core.testing.FuzzContract;
import io.jdiffusion.models.config.ModelLoadException;
import io.jdiffusion.testdata.TinySd;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The CLIP BPE tokenizer under the fuzzer: any prompt encodes to {@code maxLength} ids of the vocabulary
 * (BOS first), or is refused for its length; any vocab.json and merges.txt load or are refused with a
 * {@link ModelLoadException} naming the file.
 */
class ClipTokenizerFuzzTest {
    private static final ClipTokenizer TINY = ClipTokenizer.load(TinySd.modelDir().resolve("tokenizer"));

    /** The input, as UTF-8 with malformed bytes replaced, is the prompt. */
    @FuzzTest(maxDuration = "10s")
    void encode(byte[] input) {
        String prompt = new String(input, StandardCharsets.UTF_8);
        FuzzContract.check(IllegalArgumentException.class, input.length, () -> {
            long[] ids = TINY.encode(prompt);
            assertThat(ids).hasSize(TINY.maxLength());
            assertThat(ids[0]).isEqualTo(TINY.bosId());
            for (long id : ids) {
                assertThat(id).isBetween(0L, (long) TINY.vocabSize() + 1024);
            }
        });
    }

    /** The input is vocab.json, a zero byte, then merges.txt (no zero byte: all of it is vocab.json). */
    @FuzzTest(maxDuration = "10s")
    void load(byte[] input) {
        int split = indexOfZero(input);
        byte[] vocab = Arrays.copyOfRange(input, 0, split);
        byte[] merges = split < input.length ? Arrays.copyOfRange(input, split + 1, input.length) : new byte[0];
        FuzzContract.check(ModelLoadException.class, input.length, () -> {
            ClipTokenizer t = ClipTokenizer.parse("vocab.json", vocab, "merges.txt", merges,
                    JsonNodeFactory.instance.objectNode(), JsonNodeFactory.instance.objectNode());
            assertThat(t.encode("a photo of a cat")).hasSize(t.maxLength());
        });
    }

    private static int indexOfZero(byte[] b) {
        for (int i = 0; i < b.length; i++) {
            if (b[i] == 0) {
                return i;
            }
        }
        return b.length;
    }

    @Test
    void corruptTokenizerFilesAreRefusedNamingTheFile(@TempDir Path dir) throws Exception {
        Path tiny = TinySd.modelDir().resolve("tokenizer");
        Files.copy(tiny.resolve("vocab.json"), dir.resolve("vocab.json"));
        Files.write(dir.resolve("merges.txt"), new byte[]{'#', 'v', '\n', (byte) 0xFF, ' ', 'a', '\n'});
        assertThatThrownBy(() -> ClipTokenizer.load(dir)).isInstanceOf(ModelLoadException.class)
                .hasMessage(dir.resolve("merges.txt") + ": is not valid UTF-8 text");
        Files.copy(tiny.resolve("merges.txt"), dir.resolve("merges.txt"), StandardCopyOption.REPLACE_EXISTING);
        byte[] vocab = Files.readAllBytes(tiny.resolve("vocab.json"));
        Files.write(dir.resolve("vocab.json"), Arrays.copyOf(vocab, vocab.length / 2));
        assertThatThrownBy(() -> ClipTokenizer.load(dir)).isInstanceOf(ModelLoadException.class)
                .hasMessageStartingWith(dir.resolve("vocab.json") + ": not valid JSON (")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("Source").doesNotContain("\n"));
        Files.delete(dir.resolve("vocab.json"));
        Files.createDirectory(dir.resolve("vocab.json"));
        assertThatThrownBy(() -> ClipTokenizer.load(dir)).isInstanceOf(ModelLoadException.class)
                .hasMessage(dir.resolve("vocab.json") + ": CLIP tokenizer file is a directory, not a file");
    }

    @Test
    void aPromptOverTheLimitIsRefusedInOneLine() {
        assertThatThrownBy(() -> TINY.encode("a".repeat(ClipTokenizer.MAX_PROMPT_CHARS + 1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("a prompt of 10001 characters is longer than the limit of 10000");
    }
}
