package io.jdiffusion.models.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.jdiffusion.core.OneLine;
import io.jdiffusion.core.io.RegularFiles;
import io.jdiffusion.models.config.ConfigJson;
import io.jdiffusion.models.config.ModelLoadException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * CLIP's byte-level BPE tokenizer as transformers 5's {@code CLIPTokenizer} runs it for Stable Diffusion,
 * {@code tok(prompt, padding="max_length", max_length=77, truncation=True)}:
 * <ol>
 *   <li>normalise: Unicode NFC, every run of white space to one space, lower case (per code point, so
 *       'Σ' is always 'σ' as in Rust's {@code char::to_lowercase});</li>
 *   <li>special-token strings in the normalised text become their ids (the tokens are declared
 *       {@code normalized: true}, so they are matched after lower-casing);</li>
 *   <li>split the rest with CLIP's pattern {@value #SPLIT_PATTERN}, dropping the white space between
 *       pieces;</li>
 *   <li>map each piece's UTF-8 bytes to GPT-2's byte characters and apply the BPE merges
 *       ({@link BpeMerges});</li>
 *   <li>{@code BOS + ids + EOS}; longer sequences keep the first {@code maxLength - 2} ids so that EOS stays
 *       last; then pad with the pad token (EOS for SD 1.x) to {@code maxLength}.</li>
 * </ol>
 * Like transformers 5, and unlike OpenAI's original tokenizer, it runs neither ftfy nor
 * {@code html.unescape}: "&amp;amp;" stays five characters. Thread-safe.
 */
public final class ClipTokenizer {
    static final String SPLIT_PATTERN =
            "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";
    /** Unicode white space, as the {@code \s} of Rust's regex (Java's needs UNICODE_CHARACTER_CLASS). */
    private static final Pattern WHITESPACE_RUN = Pattern.compile("\\s+", Pattern.UNICODE_CHARACTER_CLASS);
    private static final Pattern PIECES = Pattern.compile(SPLIT_PATTERN, Pattern.UNICODE_CHARACTER_CLASS);
    private static final int DEFAULT_MAX_LENGTH = 77;
    /**
     * The longest prompt (or negative prompt) accepted, in UTF-16 characters: far beyond what the text encoder
     * reads, and it bounds the byte-pair merges, whose cost grows with the square of a word's length.
     */
    public static final int MAX_PROMPT_CHARS = 10_000;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Map<String, Integer> vocab;
    private final String[] tokenOfId;
    private final BpeMerges merges;
    private final int bosId;
    private final int eosId;
    private final int padId;
    private final int unkId;
    /** Special-token strings, longest first so that one that is a prefix of another cannot win. */
    private final List<String> specialTokens;
    private final boolean lowerCase;
    private final int maxLength;

    private ClipTokenizer(Map<String, Integer> vocab, BpeMerges merges, SpecialTokenNames names, boolean lowerCase,
                          int maxLength) {
        this.vocab = Map.copyOf(vocab);
        int maxId = vocab.values().stream().mapToInt(Integer::intValue).max().orElse(-1);
        this.tokenOfId = new String[maxId + 1];
        vocab.forEach((token, id) -> tokenOfId[id] = token);
        this.merges = merges;
        this.bosId = idOf(names.bos(), "bos_token");
        this.eosId = idOf(names.eos(), "eos_token");
        this.padId = idOf(names.pad(), "pad_token");
        this.unkId = idOf(names.unk(), "unk_token");
        Set<String> specials = new LinkedHashSet<>(List.of(names.bos(), names.eos(), names.pad(), names.unk()));
        this.specialTokens = specials.stream().sorted(Comparator.comparingInt(String::length).reversed()).toList();
        this.lowerCase = lowerCase;
        this.maxLength = maxLength;
    }

    private int idOf(String token, String role) {
        Integer id = vocab.get(token);
        if (id == null) {
            throw new IllegalArgumentException("tokenizer " + role + " '" + OneLine.of(token) + "' is not in vocab.json");
        }
        return id;
    }

    /**
     * Reads {@code vocab.json} and {@code merges.txt} from a diffusers {@code tokenizer/} folder, and the
     * special tokens, lower-casing and {@code model_max_length} from {@code special_tokens_map.json} and
     * {@code tokenizer_config.json} where present (CLIP's defaults otherwise).
     *
     * @throws ModelLoadException naming the file and the problem (missing, not a file, not UTF-8, not the
     *                            expected JSON, a merge whose result is not in the vocabulary)
     */
    public static ClipTokenizer load(Path folder) {
        Path vocabFile = folder.resolve("vocab.json");
        Path mergesFile = folder.resolve("merges.txt");
        for (Path required : List.of(vocabFile, mergesFile)) {
            String problem = RegularFiles.problem(required);
            if (problem != null) {
                throw new ModelLoadException(required + ": CLIP tokenizer file " + problem);
            }
        }
        return parse(vocabFile.toString(), bytes(vocabFile), mergesFile.toString(), bytes(mergesFile),
                readOptionalJson(folder.resolve("special_tokens_map.json")),
                readOptionalJson(folder.resolve("tokenizer_config.json")));
    }

    /**
     * A tokenizer from the bytes of {@code vocab.json} and {@code merges.txt} (named in messages by
     * {@code vocabSource} and {@code mergesSource}) and the parsed special-token map and tokenizer config.
     */
    public static ClipTokenizer parse(String vocabSource, byte[] vocabJson, String mergesSource, byte[] mergesTxt,
                                      JsonNode specialMap, JsonNode config) {
        Map<String, Integer> vocab = readVocab(vocabSource, vocabJson);
        BpeMerges merges = readMerges(mergesSource, mergesTxt, vocab);
        SpecialTokenNames names = new SpecialTokenNames(
                specialToken("bos_token", specialMap, config, "<|startoftext|>"),
                specialToken("eos_token", specialMap, config, "<|endoftext|>"),
                specialToken("pad_token", specialMap, config, "<|endoftext|>"),
                specialToken("unk_token", specialMap, config, "<|endoftext|>"));
        boolean lowerCase = config.path("do_lower_case").asBoolean(true);
        int maxLength = DEFAULT_MAX_LENGTH;
        JsonNode declared = config.get("model_max_length");
        // very large values mean "unbounded" in transformers; CLIP's text encoder has 77 positions
        if (declared != null && declared.isNumber() && declared.asDouble() >= 3 && declared.asDouble() <= 4096) {
            maxLength = declared.asInt();
        }
        try {
            return new ClipTokenizer(vocab, merges, names, lowerCase, maxLength);
        } catch (IllegalArgumentException e) {
            throw new ModelLoadException(vocabSource + ": " + e.getMessage());
        }
    }

    private static byte[] bytes(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new ModelLoadException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static Map<String, Integer> readVocab(String source, byte[] json) {
        JsonNode root = ConfigJson.parseTree(source, json);
        if (!root.isObject()) {
            throw new ModelLoadException(source + ": must be a JSON object of token -> id");
        }
        Map<String, Integer> vocab = new HashMap<>();
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            JsonNode id = e.getValue();
            // ids are dense in every CLIP vocabulary; a bound keeps the id -> token table proportional to the file
            if (!id.isIntegralNumber() || !id.canConvertToInt() || id.asInt() < 0 || id.asInt() > 2 * root.size() + 1024) {
                throw new ModelLoadException(source + ": token '" + OneLine.of(e.getKey()) + "' has no valid id: "
                        + OneLine.of(id));
            }
            vocab.put(e.getKey(), id.asInt());
        }
        return vocab;
    }

    private static BpeMerges readMerges(String source, byte[] text, Map<String, Integer> vocab) {
        String content;
        try {
            content = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(text)).toString();
        } catch (CharacterCodingException e) {
            throw new ModelLoadException(source + ": is not valid UTF-8 text");
        }
        String[] lines = content.split("\r?\n");
        Map<String, Integer> ranks = new HashMap<>();
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i];
            if ((i == 0 && line.startsWith("#version")) || line.isBlank()) {
                continue;
            }
            String[] parts = line.trim().split(" ");
            if (parts.length != 2) {
                throw new ModelLoadException(source + " line " + (i + 1) + ": expected two symbols, got '"
                        + OneLine.of(line) + "'");
            }
            String result = parts[0] + parts[1];
            if (!vocab.containsKey(result)) {
                throw new ModelLoadException(source + " line " + (i + 1) + ": merge result '" + OneLine.of(result)
                        + "' is not in vocab.json");
            }
            ranks.putIfAbsent(parts[0] + " " + parts[1], ranks.size());
        }
        return new BpeMerges(ranks);
    }

    private static JsonNode readOptionalJson(Path file) {
        return RegularFiles.present(file) ? ConfigJson.readTree(file) : JSON.createObjectNode();
    }

    /** A special token given either as a string or as an AddedToken object with "content". */
    private static String specialToken(String key, JsonNode specialMap, JsonNode config, String fallback) {
        for (JsonNode source : List.of(specialMap, config)) {
            JsonNode node = source.get(key);
            if (node != null && node.isTextual()) {
                return node.asText();
            }
            if (node != null && node.hasNonNull("content")) {
                return node.get("content").asText();
            }
        }
        return fallback;
    }

    /** The {@link #maxLength()} ids the text encoder takes: BOS, the prompt's ids (truncated), EOS, padding. */
    public long[] encode(String prompt) {
        List<Integer> content = tokenIds(prompt);
        int kept = Math.min(content.size(), maxLength - 2);
        long[] ids = new long[maxLength];
        ids[0] = bosId;
        for (int i = 0; i < kept; i++) {
            ids[i + 1] = content.get(i);
        }
        ids[kept + 1] = eosId;
        for (int i = kept + 2; i < maxLength; i++) {
            ids[i] = padId;
        }
        return ids;
    }

    /** BOS, every id of the prompt, EOS: no truncation, no padding. */
    public long[] untruncatedIds(String prompt) {
        List<Integer> content = tokenIds(prompt);
        long[] ids = new long[content.size() + 2];
        ids[0] = bosId;
        for (int i = 0; i < content.size(); i++) {
            ids[i + 1] = content.get(i);
        }
        ids[ids.length - 1] = eosId;
        return ids;
    }

    /** The length of {@link #untruncatedIds}; above {@link #maxLength()} the prompt is truncated (diffusers warns). */
    public int untruncatedLength(String prompt) {
        return tokenIds(prompt).size() + 2;
    }

    /**
     * The text that truncation drops, decoded as diffusers shows it in its warning
     * ({@code untruncated_ids[maxLength - 1 : -1]}); empty when nothing is dropped.
     */
    public String removedByTruncation(String prompt) {
        long[] all = untruncatedIds(prompt);
        if (all.length <= maxLength) {
            return "";
        }
        StringBuilder symbols = new StringBuilder();
        for (int i = maxLength - 1; i < all.length - 1; i++) {
            symbols.append(tokenOfId[(int) all[i]]);
        }
        return ByteLevelAlphabet.decode(symbols.toString().replace(BpeMerges.END_OF_WORD, " ")).strip();
    }

    /** The token strings of {@link #untruncatedIds}, e.g. {@code <|startoftext|>, a</w>, ri, ding</w>, <|endoftext|>}. */
    public List<String> tokens(String prompt) {
        long[] ids = untruncatedIds(prompt);
        List<String> out = new ArrayList<>(ids.length);
        for (long id : ids) {
            out.add(tokenOfId[(int) id]);
        }
        return out;
    }

    /**
     * The ids of {@code text} without BOS, EOS, truncation or padding: transformers'
     * {@code tok(text, add_special_tokens=False, truncation=False)}, as A1111 tokenizes each weighted run.
     */
    public int[] contentIds(String text) {
        return tokenIds(text).stream().mapToInt(Integer::intValue).toArray();
    }

    /** The id of the vocabulary entry {@code token} (e.g. {@code ",</w>"}), or -1 when there is none. */
    public int idOfToken(String token) {
        return vocab.getOrDefault(token, -1);
    }

    /** Sequence length of {@link #encode}: 77 for every Stable Diffusion text encoder. */
    public int maxLength() {
        return maxLength;
    }

    public int bosId() {
        return bosId;
    }

    public int eosId() {
        return eosId;
    }

    public int padId() {
        return padId;
    }

    public int vocabSize() {
        return vocab.size();
    }

    private List<Integer> tokenIds(String prompt) {
        if (prompt == null) {
            throw new IllegalArgumentException("prompt must not be null (use \"\" for an empty prompt)");
        }
        if (prompt.length() > MAX_PROMPT_CHARS) {
            throw new IllegalArgumentException("a prompt of " + prompt.length() + " characters is longer than the limit of "
                    + MAX_PROMPT_CHARS);
        }
        String text = normalize(prompt);
        List<Integer> ids = new ArrayList<>();
        int segmentStart = 0;
        int i = 0;
        while (i < text.length()) {
            String special = specialTokenAt(text, i);
            if (special == null) {
                i++;
                continue;
            }
            appendPieces(text.substring(segmentStart, i), ids);
            ids.add(vocab.get(special));
            i += special.length();
            segmentStart = i;
        }
        appendPieces(text.substring(segmentStart), ids);
        return ids;
    }

    private String specialTokenAt(String text, int index) {
        for (String special : specialTokens) {
            if (text.startsWith(special, index)) {
                return special;
            }
        }
        return null;
    }

    private void appendPieces(String segment, List<Integer> ids) {
        Matcher m = PIECES.matcher(segment);
        while (m.find()) {
            for (String symbol : merges.split(ByteLevelAlphabet.encode(m.group()))) {
                ids.add(vocab.getOrDefault(symbol, unkId));
            }
        }
    }

    private String normalize(String prompt) {
        String text = Normalizer.normalize(prompt, Normalizer.Form.NFC);
        text = WHITESPACE_RUN.matcher(text).replaceAll(" ");
        if (!lowerCase) {
            return text;
        }
        StringBuilder sb = new StringBuilder(text.length());
        text.codePoints().forEach(cp -> sb.append(new String(Character.toChars(cp)).toLowerCase(Locale.ROOT)));
        return sb.toString();
    }

    private record SpecialTokenNames(String bos, String eos, String pad, String unk) {
    }
}
