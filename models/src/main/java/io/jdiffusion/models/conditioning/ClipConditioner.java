package io.jdiffusion.models.conditioning;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.DeviceTensor;
import io.jdiffusion.backend.Executable;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.clip.ClipTextEncoder;
import io.jdiffusion.models.config.ModelLoadException;
import io.jdiffusion.models.pipeline.NetworkRunner;
import io.jdiffusion.models.prompt.PromptChunker;
import io.jdiffusion.models.tokenizer.ClipTokenizer;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * SD 1.x/2.x conditioning: one CLIP tokenizer and one CLIP text encoder; the context is the encoder's
 * hidden states for [negative, prompt] (SD 2.x: of the penultimate layer, which the encoder's config says),
 * with A1111's prompt emphasis and long-prompt chunks.
 * The tokenizer is loaded with the model; a model without one (a single-file checkpoint found with no
 * tokenizer files) fails only when a prompt is encoded, with the message saying what to supply.
 */
public final class ClipConditioner implements TextConditioner {
    private final ClipTextEncoder encoder;
    private final ClipTokenizer tokenizer;
    private final String missingTokenizer;

    private final String executableKey;
    private volatile PromptChunker chunker;

    private ClipConditioner(ClipTextEncoder encoder, ClipTokenizer tokenizer, String missingTokenizer, String executableKey) {
        this.encoder = encoder;
        this.tokenizer = tokenizer;
        this.missingTokenizer = missingTokenizer;
        this.executableKey = executableKey.isEmpty() ? "" : executableKey + "/";
    }

    /** A conditioner with the tokenizer in {@code tokenizerFolder} ({@code vocab.json}, {@code merges.txt}). */
    public static ClipConditioner withTokenizer(ClipTextEncoder encoder, Path tokenizerFolder) {
        return new ClipConditioner(encoder, ClipTokenizer.load(tokenizerFolder), null, "");
    }

    /** A conditioner whose model has no tokenizer: encoding fails with {@code whatToSupply}. */
    public static ClipConditioner withoutTokenizer(ClipTextEncoder encoder, String whatToSupply) {
        return new ClipConditioner(encoder, null, whatToSupply, "");
    }

    /** The tokenizer; throws saying what to supply when the model has none. */
    public ClipTokenizer tokenizer() {
        if (tokenizer == null) {
            throw new ModelLoadException(missingTokenizer);
        }
        return tokenizer;
    }

    public ClipTextEncoder encoder() {
        return encoder;
    }

    @Override
    public int contextDim() {
        return encoder.hiddenSize();
    }

    /**
     * Encodes the prompts as A1111 does: each is parsed for emphasis and split into 77-token chunks
     * ({@link PromptChunker}); every chunk of every prompt is one row of a single text-encoder call, the
     * shorter prompt padded with chunks of the empty prompt ({@link ChunkedPrompts}); each chunk's hidden
     * states are weighted ({@link io.jdiffusion.models.prompt.Emphasis}) and a prompt's chunks are concatenated
     * along the token axis, so the context is [batch, 77 * chunks, dim]. A one-chunk prompt without emphasis
     * gives diffusers' context exactly.
     */
    @Override
    public Conditioning encode(ConditioningInput input, NetworkRunner runner) {
        List<String> prompts = PromptBatch.prompts(input);
        ChunkedPrompts chunked = ChunkedPrompts.of(List.of(chunker()), prompts).getFirst();
        int rows = chunked.rows();
        int batch = prompts.size();
        Executable exe = runner.executable(executableKey + "text_encoder/" + rows, () -> encoder.graph(rows));
        Backend backend = runner.backend();
        try (Tensor hostIds = Tensor.ofLongs(Shape.of(rows, chunked.tokens()), chunked.ids());
             DeviceTensor deviceIds = backend.upload(hostIds)) {
            DeviceTensor hidden = backend.allocate(exe.graph().outputs().get(0).shape(), DType.F32);
            exe.run(List.of(deviceIds), List.of(hidden));
            if (chunked.plain()) {
                return new Conditioning(hidden, null, Map.of(), List.of());
            }
            try (hidden; Tensor host = backend.download(hidden)) {
                float[] z = host.toFloatArray();
                int dim = encoder.hiddenSize();
                chunked.emphasize(z, dim);
                try (Tensor context = Tensor.ofFloats(Shape.of(batch, chunked.contextTokens(), dim), z)) {
                    return new Conditioning(backend.upload(context), null, Map.of(), List.of());
                }
            }
        }
    }

    private PromptChunker chunker() {
        PromptChunker c = chunker;
        if (c == null) {
            c = new PromptChunker(tokenizer());
            chunker = c;
        }
        return c;
    }

    /**
     * This conditioner with another text encoder of the same architecture (the model's with LoRAs merged),
     * sharing the tokenizer; {@code executableKeys} keeps its compiled calls apart from the base encoder's.
     */
    @Override
    public ClipConditioner withTextEncoders(List<ClipTextEncoder> encoders, List<String> executableKeys) {
        if (encoders.size() != 1 || executableKeys.size() != 1) {
            throw new IllegalArgumentException("this model has one text encoder, got " + encoders.size());
        }
        return new ClipConditioner(encoders.getFirst(), tokenizer, missingTokenizer, executableKeys.getFirst());
    }
}
