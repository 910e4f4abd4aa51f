package io.jdiffusion.models.conditioning;

import io.jdiffusion.models.prompt.Emphasis;
import io.jdiffusion.models.prompt.PromptChunker;
import io.jdiffusion.models.prompt.TokenChunk;

import java.util.ArrayList;
import java.util.List;

/**
 * The prompts of one request as one tokenizer chunks them, laid out for a single text-encoder call, as
 * A1111's {@code FrozenCLIPEmbedderWithCustomWordsBase.forward} lays them out: every prompt has the same
 * number of chunks (a shorter prompt is padded with chunks of the empty prompt), and the rows are
 * prompt-major, so that a prompt's chunks lie one after another and concatenating their hidden states along
 * the token axis is a change of shape only: rows x 77 tokens become [batch, 77 * chunks].
 * Models with several text encoders (SDXL) chunk the prompts once per tokenizer, padded to one chunk count
 * ({@link #of}), so that the encoders' contexts have the same length and can be put side by side.
 */
final class ChunkedPrompts {
    private final List<TokenChunk> rows;
    private final int[] ownChunks;
    private final int chunks;
    private final int tokens;

    private ChunkedPrompts(List<TokenChunk> rows, int[] ownChunks, int chunks, int tokens) {
        this.rows = rows;
        this.ownChunks = ownChunks;
        this.chunks = chunks;
        this.tokens = tokens;
    }

    /**
     * {@code prompts} chunked by each of {@code chunkers} (one per text encoder), all padded to the largest
     * chunk count any prompt has with any of them.
     */
    static List<ChunkedPrompts> of(List<PromptChunker> chunkers, List<String> prompts) {
        List<List<List<TokenChunk>>> perChunker = new ArrayList<>();
        int chunks = 1;
        for (PromptChunker chunker : chunkers) {
            List<List<TokenChunk>> perPrompt = prompts.stream().map(chunker::chunks).toList();
            perChunker.add(perPrompt);
            chunks = Math.max(chunks, perPrompt.stream().mapToInt(List::size).max().orElse(1));
        }
        List<ChunkedPrompts> out = new ArrayList<>();
        for (int k = 0; k < chunkers.size(); k++) {
            PromptChunker chunker = chunkers.get(k);
            List<List<TokenChunk>> perPrompt = perChunker.get(k);
            List<TokenChunk> rows = new ArrayList<>(prompts.size() * chunks);
            int[] own = new int[prompts.size()];
            TokenChunk empty = chunker.emptyChunk();
            for (int b = 0; b < perPrompt.size(); b++) {
                List<TokenChunk> prompt = perPrompt.get(b);
                own[b] = prompt.size();
                for (int c = 0; c < chunks; c++) {
                    rows.add(c < prompt.size() ? prompt.get(c) : empty);
                }
            }
            out.add(new ChunkedPrompts(List.copyOf(rows), own, chunks, chunker.chunkLength()));
        }
        return List.copyOf(out);
    }

    /** Text-encoder rows: prompts x chunks. */
    int rows() {
        return rows.size();
    }

    /** Chunks per prompt, padding included. */
    int chunks() {
        return chunks;
    }

    /** Ids per chunk (77 for CLIP). */
    int tokens() {
        return tokens;
    }

    /** The context length: tokens x chunks. */
    int contextTokens() {
        return tokens * chunks;
    }

    /** Chunks of prompt {@code prompt} itself, without the empty chunks it was padded with. */
    int ownChunks(int prompt) {
        return ownChunks[prompt];
    }

    /** The token ids, [rows, tokens] row by row. */
    long[] ids() {
        long[] ids = new long[rows.size() * tokens];
        for (int r = 0; r < rows.size(); r++) {
            System.arraycopy(rows.get(r).ids(), 0, ids, r * tokens, tokens);
        }
        return ids;
    }

    /** Whether the encoder's output is the context as it is: one chunk per prompt and no emphasis. */
    boolean plain() {
        return chunks == 1 && rows.stream().allMatch(TokenChunk::unweighted);
    }

    /**
     * Weights {@code hidden} ([rows, tokens, dim], this tokenizer's encoder's output) in place, chunk by
     * chunk, with A1111's emphasis ({@link Emphasis}: each chunk's mean restored on its own).
     */
    void emphasize(float[] hidden, int dim) {
        if (hidden.length != rows.size() * tokens * dim) {
            throw new IllegalArgumentException("hidden states of " + hidden.length + " values for " + rows.size()
                    + " chunks of " + tokens + " x " + dim);
        }
        for (int r = 0; r < rows.size(); r++) {
            Emphasis.apply(hidden, r * tokens * dim, rows.get(r), dim);
        }
    }
}
