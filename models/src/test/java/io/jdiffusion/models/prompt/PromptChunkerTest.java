package io.jdiffusion.models.prompt;

import io.jdiffusion.models.tokenizer.ClipTokenizer;
import io.jdiffusion.testdata.TinySd;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link PromptChunker} with the tiny model's CLIP tokenizer (BOS 998, EOS = pad 999, "a" 320, "," 267):
 * exact ids and multipliers of every chunk, as A1111's tokenize_line makes them.
 */
class PromptChunkerTest {
    private static final ClipTokenizer TOKENIZER = ClipTokenizer.load(TinySd.modelDir().resolve("tokenizer"));
    private static final PromptChunker CHUNKER = new PromptChunker(TOKENIZER);
    private static final long BOS = 998;
    private static final long EOS = 999;
    private static final long A = 320;
    private static final long COMMA = 267;

    /** A chunk of 77: BOS, {@code content}, EOS, then {@code pad} to the end; weights 1 except {@code weights}. */
    private static TokenChunk chunk(long pad, long[] content, double[] weights) {
        long[] ids = new long[77];
        double[] m = new double[77];
        Arrays.fill(ids, pad);
        Arrays.fill(m, 1.0);
        ids[0] = BOS;
        System.arraycopy(content, 0, ids, 1, content.length);
        ids[content.length + 1] = EOS;
        if (weights != null) {
            System.arraycopy(weights, 0, m, 1, weights.length);
        }
        return new TokenChunk(ids, m);
    }

    private static TokenChunk chunk(long... content) {
        return chunk(EOS, content, null);
    }

    private static long[] times(long id, int n) {
        long[] a = new long[n];
        Arrays.fill(a, id);
        return a;
    }

    private static long[] concat(long[]... parts) {
        return Arrays.stream(parts).flatMapToLong(Arrays::stream).toArray();
    }

    private static String words(String word, int n) {
        return IntStream.range(0, n).mapToObj(i -> word).collect(Collectors.joining(" "));
    }

    @Test
    void aPlainPromptIsTheTokenizersEncoding() {
        String prompt = "a photograph of an astronaut riding a horse";
        List<TokenChunk> chunks = CHUNKER.chunks(prompt);
        assertThat(chunks).hasSize(1);
        assertThat(chunks.getFirst().ids()).containsExactly(TOKENIZER.encode(prompt));
        assertThat(chunks.getFirst().unweighted()).isTrue();
    }

    @Test
    void weightsFollowTheirTokens() {
        List<TokenChunk> chunks = CHUNKER.chunks("a (a a:1.5) [a], a");
        double w = 1 / 1.1;
        assertThat(chunks).containsExactly(chunk(EOS, new long[]{A, A, A, A, COMMA, A},
                new double[]{1.0, 1.5, 1.5, w, 1.0, 1.0}));
        assertThat(chunks.getFirst().unweighted()).isFalse();
    }

    @Test
    void aWeightedWordThatSplitsIntoSeveralTokensWeighsEachOfThem() {
        int[] word = TOKENIZER.contentIds("xqzvj");
        assertThat(word).hasSizeGreaterThan(1).doesNotContain((int) EOS);
        TokenChunk c = CHUNKER.chunks("(xqzvj:1.25)").getFirst();
        for (int i = 0; i < word.length; i++) {
            assertThat(c.ids()[1 + i]).isEqualTo(word[i]);
            assertThat(c.multipliers()[1 + i]).isEqualTo(1.25);
        }
        assertThat(c.ids()[1 + word.length]).isEqualTo(EOS);
        assertThat(c.multipliers()[1 + word.length]).isEqualTo(1.0);
    }

    @Test
    void longPromptsFillChunksOf75() {
        assertThat(CHUNKER.chunks(words("a", 75))).containsExactly(chunk(times(A, 75)));
        assertThat(CHUNKER.chunks(words("a", 80))).containsExactly(chunk(times(A, 75)), chunk(times(A, 5)));
        assertThat(CHUNKER.chunks(words("a", 151))).containsExactly(chunk(times(A, 75)), chunk(times(A, 75)),
                chunk(times(A, 1)));
    }

    @Test
    void breakStartsANewChunk() {
        assertThat(CHUNKER.chunks("a BREAK a a")).containsExactly(chunk(A), chunk(A, A));
        // a BREAK with nothing before it closes an empty chunk; one at the end adds nothing after it
        assertThat(CHUNKER.chunks("BREAK a")).containsExactly(chunk(), chunk(A));
        assertThat(CHUNKER.chunks("a BREAK")).containsExactly(chunk(A));
        assertThat(CHUNKER.chunks("BREAK")).containsExactly(chunk());
        // in brackets BREAK is the word "break" with a negative weight, as in A1111
        int[] breakWord = TOKENIZER.contentIds("BREAK");
        TokenChunk bracketed = CHUNKER.chunks("(a BREAK a)").getFirst();
        assertThat(bracketed.ids()[2]).isEqualTo(breakWord[0]);
        assertThat(bracketed.multipliers()[2]).isEqualTo(-1.1);
    }

    @Test
    void aFullChunkMovesTheWordsAfterARecentCommaToTheNext() {
        // 70 a, comma, 10 a: the chunk fills after 4 more a; the comma is 5 back, so those 4 move on
        List<TokenChunk> chunks = CHUNKER.chunks(words("a", 70) + ", " + words("a", 10));
        assertThat(chunks).containsExactly(chunk(concat(times(A, 70), new long[]{COMMA})), chunk(times(A, 10)));
    }

    @Test
    void aCommaMoreThan20TokensBackIsNotUsed() {
        List<TokenChunk> chunks = CHUNKER.chunks(words("a", 30) + ", " + words("a", 60));
        assertThat(chunks).containsExactly(chunk(concat(times(A, 30), new long[]{COMMA}, times(A, 44))),
                chunk(times(A, 16)));
        // exactly 20 back still moves
        List<TokenChunk> twenty = CHUNKER.chunks(words("a", 55) + ", " + words("a", 25));
        assertThat(twenty).containsExactly(chunk(concat(times(A, 55), new long[]{COMMA})), chunk(times(A, 25)));
    }

    @Test
    void movedTokensKeepTheirWeights() {
        List<TokenChunk> chunks = CHUNKER.chunks(words("a", 73) + ", (a a a:1.5)");
        double[] w = new double[3];
        Arrays.fill(w, 1.5);
        assertThat(chunks).containsExactly(chunk(concat(times(A, 73), new long[]{COMMA})),
                chunk(EOS, times(A, 3), w));
    }

    @Test
    void theEmptyPromptIsOneChunk() {
        assertThat(CHUNKER.chunks("")).containsExactly(chunk());
        assertThat(CHUNKER.emptyChunk()).isEqualTo(chunk());
        assertThat(CHUNKER.emptyChunk().ids()).containsExactly(TOKENIZER.encode(""));
    }

    @Test
    void aPadTokenOtherThanEosFillsEverythingAfterTheFirstEos(@TempDir Path dir) throws IOException {
        Path source = TinySd.modelDir().resolve("tokenizer");
        for (String f : List.of("vocab.json", "merges.txt", "tokenizer_config.json")) {
            Files.copy(source.resolve(f), dir.resolve(f));
        }
        Files.writeString(dir.resolve("special_tokens_map.json"), "{\"pad_token\": \"!\"}");
        ClipTokenizer sd2Like = ClipTokenizer.load(dir);
        long pad = sd2Like.padId();
        assertThat(pad).isNotEqualTo(EOS);
        PromptChunker chunker = new PromptChunker(sd2Like);
        assertThat(chunker.chunks("a BREAK a a")).containsExactly(chunk(pad, new long[]{A}, null),
                chunk(pad, new long[]{A, A}, null));
        assertThat(chunker.chunks("a").getFirst().ids()).containsExactly(sd2Like.encode("a"));
    }
}
