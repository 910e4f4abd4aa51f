package io.jdiffusion.models.prompt;

import io.jdiffusion.models.tokenizer.ClipTokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits a parsed prompt into text-encoder chunks as A1111's {@code FrozenCLIPEmbedderWithCustomWordsBase
 * .tokenize_line} does, so that prompts of any length are encoded:
 * <ul>
 *   <li>each weighted run is tokenized on its own (no BOS/EOS) and every token carries its run's weight;</li>
 *   <li>tokens fill chunks of {@code maxLength - 2} (75); each chunk is then padded with EOS and wrapped in
 *       BOS ... EOS, and everything after the first EOS becomes the pad token (SD 2's "!" differs from EOS);</li>
 *   <li>{@code BREAK} closes the current chunk, padded, even when it is empty;</li>
 *   <li>comma backtracking (A1111's default {@code comma_padding_backtrack = 20}): when a chunk is full and the
 *       last comma in it is at most 20 tokens back, the tokens after that comma move to the next chunk so
 *       that a phrase is not cut in two;</li>
 *   <li>an empty prompt is one chunk: BOS, EOS and padding.</li>
 * </ul>
 * Textual-inversion embeddings are not supported.
 */
public final class PromptChunker {
    /** A1111's default of {@code comma_padding_backtrack}. */
    public static final int COMMA_BACKTRACK = 20;

    private final ClipTokenizer tokenizer;
    private final int chunkTokens;
    private final int commaId;

    public PromptChunker(ClipTokenizer tokenizer) {
        this.tokenizer = tokenizer;
        this.chunkTokens = tokenizer.maxLength() - 2;
        this.commaId = tokenizer.idOfToken(",</w>");
    }

    /** Ids per chunk: {@code maxLength} of the tokenizer (77). */
    public int chunkLength() {
        return chunkTokens + 2;
    }

    /** Parses {@code prompt} with {@link PromptAttention} and chunks it. */
    public List<TokenChunk> chunks(String prompt) {
        return chunks(PromptAttention.parse(prompt));
    }

    public List<TokenChunk> chunks(List<WeightedText> parsed) {
        Builder b = new Builder();
        for (WeightedText run : parsed) {
            if (run.isBreak()) {
                b.close();
                continue;
            }
            for (int token : tokenizer.contentIds(run.text())) {
                if (token == commaId) {
                    b.lastComma = b.tokens.size();
                } else if (b.tokens.size() == chunkTokens && b.lastComma != -1
                        && b.tokens.size() - b.lastComma <= COMMA_BACKTRACK) {
                    b.moveAfterCommaToNextChunk();
                }
                if (b.tokens.size() == chunkTokens) {
                    b.close();
                }
                b.tokens.add((long) token);
                b.multipliers.add(run.weight());
            }
        }
        if (!b.tokens.isEmpty() || b.chunks.isEmpty()) {
            b.close();
        }
        return List.copyOf(b.chunks);
    }

    /** A chunk of the empty prompt: what a shorter prompt of a batch is padded with, chunk for chunk. */
    public TokenChunk emptyChunk() {
        return chunks(List.of(new WeightedText("", 1.0))).getFirst();
    }

    /** The chunk under construction and those finished. */
    private final class Builder {
        final List<TokenChunk> chunks = new ArrayList<>();
        List<Long> tokens = new ArrayList<>();
        List<Double> multipliers = new ArrayList<>();
        int lastComma = -1;

        void moveAfterCommaToNextChunk() {
            int breakAt = lastComma + 1;
            List<Long> movedTokens = new ArrayList<>(tokens.subList(breakAt, tokens.size()));
            List<Double> movedMultipliers = new ArrayList<>(multipliers.subList(breakAt, multipliers.size()));
            tokens = new ArrayList<>(tokens.subList(0, breakAt));
            multipliers = new ArrayList<>(multipliers.subList(0, breakAt));
            close();
            tokens = movedTokens;
            multipliers = movedMultipliers;
        }

        void close() {
            int length = chunkTokens + 2;
            long[] ids = new long[length];
            double[] weights = new double[length];
            ids[0] = tokenizer.bosId();
            weights[0] = 1.0;
            for (int i = 0; i < length - 1; i++) {
                boolean content = i < tokens.size();
                ids[i + 1] = content ? tokens.get(i) : tokenizer.eosId();
                weights[i + 1] = content ? multipliers.get(i) : 1.0;
            }
            boolean afterEos = false;
            for (int i = 0; i < length; i++) {
                if (afterEos) {
                    ids[i] = tokenizer.padId();
                }
                afterEos |= ids[i] == tokenizer.eosId();
            }
            chunks.add(new TokenChunk(ids, weights));
            tokens = new ArrayList<>();
            multipliers = new ArrayList<>();
            lastComma = -1;
        }
    }
}
