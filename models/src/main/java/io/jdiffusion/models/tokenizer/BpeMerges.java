package io.jdiffusion.models.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * CLIP's byte-pair encoding of one pre-token: the word starts as its byte-level characters, the last one
 * carrying the end-of-word suffix {@code </w>}; then, repeatedly, the adjacent pair with the lowest merge
 * rank is merged everywhere it occurs (left to right) until no pair has a rank. Results are cached per
 * word, as in CLIP and in HF tokenizers; the cache is bounded and thread-safe.
 */
final class BpeMerges {
    static final String END_OF_WORD = "</w>";
    private static final int CACHE_LIMIT = 50_000;

    /** Merge rank keyed by {@code left + " " + right} (a space never occurs inside a symbol). */
    private final Map<String, Integer> ranks;
    private final Map<String, List<String>> cache = new ConcurrentHashMap<>();

    BpeMerges(Map<String, Integer> ranks) {
        this.ranks = Map.copyOf(ranks);
    }

    int size() {
        return ranks.size();
    }

    /** The BPE symbols of one byte-level word (non-empty). */
    List<String> split(String byteLevelWord) {
        List<String> cached = cache.get(byteLevelWord);
        if (cached != null) {
            return cached;
        }
        List<String> symbols = merge(byteLevelWord);
        if (cache.size() >= CACHE_LIMIT) {
            cache.clear();
        }
        cache.put(byteLevelWord, symbols);
        return symbols;
    }

    private List<String> merge(String word) {
        List<String> symbols = new ArrayList<>(word.length());
        for (int i = 0; i < word.length() - 1; i++) {
            symbols.add(String.valueOf(word.charAt(i)));
        }
        symbols.add(word.charAt(word.length() - 1) + END_OF_WORD);
        while (symbols.size() > 1) {
            int bestRank = Integer.MAX_VALUE;
            String bestLeft = null;
            String bestRight = null;
            for (int i = 0; i + 1 < symbols.size(); i++) {
                Integer rank = ranks.get(symbols.get(i) + " " + symbols.get(i + 1));
                if (rank != null && rank < bestRank) {
                    bestRank = rank;
                    bestLeft = symbols.get(i);
                    bestRight = symbols.get(i + 1);
                }
            }
            if (bestLeft == null) {
                break;
            }
            List<String> merged = new ArrayList<>(symbols.size());
            for (int i = 0; i < symbols.size(); i++) {
                if (i + 1 < symbols.size() && symbols.get(i).equals(bestLeft) && symbols.get(i + 1).equals(bestRight)) {
                    merged.add(bestLeft + bestRight);
                    i++;
                } else {
                    merged.add(symbols.get(i));
                }
            }
            symbols = merged;
        }
        return List.copyOf(symbols);
    }
}
