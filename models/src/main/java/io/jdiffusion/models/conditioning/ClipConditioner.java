package io.jdiffusion.models.conditioning;

import io.jdiffusion.backend.DeviceTensor;
import io.jdiffusion.backend.Executable;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.clip.ClipTextEncoder;
import io.jdiffusion.models.config.ModelLoadException;
import io.jdiffusion.models.pipeline.NetworkRunner;
import io.jdiffusion.models.tokenizer.ClipTokenizer;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * SD 1.x/2.x conditioning: one CLIP tokenizer and one CLIP text encoder; the context is the encoder's
 * hidden states for [negative, prompt] (SD 2.x: of the penultimate layer, which the encoder's config says).
 * The tokenizer is loaded with the model; a model without one (a single-file checkpoint found with no
 * tokenizer files) fails only when a prompt is encoded, with the message saying what to supply.
 */
public final class ClipConditioner implements TextConditioner {
    private final ClipTextEncoder encoder;
    private final ClipTokenizer tokenizer;
    private final String missingTokenizer;

    private ClipConditioner(ClipTextEncoder encoder, ClipTokenizer tokenizer, String missingTokenizer) {
        this.encoder = encoder;
        this.tokenizer = tokenizer;
        this.missingTokenizer = missingTokenizer;
    }

    /** A conditioner with the tokenizer in {@code tokenizerFolder} ({@code vocab.json}, {@code merges.txt}). */
    public static ClipConditioner withTokenizer(ClipTextEncoder encoder, Path tokenizerFolder) {
        return new ClipConditioner(encoder, ClipTokenizer.load(tokenizerFolder), null);
    }

    /** A conditioner whose model has no tokenizer: encoding fails with {@code whatToSupply}. */
    public static ClipConditioner withoutTokenizer(ClipTextEncoder encoder, String whatToSupply) {
        return new ClipConditioner(encoder, null, whatToSupply);
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

    @Override
    public Conditioning encode(ConditioningInput input, NetworkRunner runner) {
        ClipTokenizer tok = tokenizer();
        List<String> prompts = PromptBatch.prompts(input);
        List<String> warnings = PromptBatch.truncationWarnings(tok, prompts);
        int batch = prompts.size();
        int tokens = tok.maxLength();
        long[] ids = PromptBatch.ids(tok, prompts);
        Executable exe = runner.executable("text_encoder/" + batch, () -> encoder.graph(batch));
        try (Tensor hostIds = Tensor.ofLongs(Shape.of(batch, tokens), ids);
             DeviceTensor deviceIds = runner.backend().upload(hostIds)) {
            DeviceTensor context = runner.backend().allocate(exe.graph().outputs().get(0).shape(), DType.F32);
            exe.run(List.of(deviceIds), List.of(context));
            return new Conditioning(context, null, Map.of(), warnings);
        }
    }
}
