package io.jdiffusion.models.conditioning;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.DeviceTensor;
import io.jdiffusion.backend.Executable;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.clip.ClipTextEncoder;
import io.jdiffusion.models.config.ModelLoadException;
import io.jdiffusion.models.config.UNetConfig;
import io.jdiffusion.models.pipeline.NetworkRunner;
import io.jdiffusion.models.prompt.PromptChunker;
import io.jdiffusion.models.tokenizer.ClipTokenizer;
import io.jdiffusion.models.unet.UNet2DConditionModel;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * SDXL conditioning, as diffusers' {@code StableDiffusionXLPipeline.encode_prompt} for a plain prompt and as
 * A1111 for emphasis and long prompts: CLIP ViT-L and OpenCLIP ViT-bigG each read the prompt with their own
 * tokenizer (the second pads with "!"); the context is their penultimate hidden states side by side
 * ([batch, 77 * chunks, 768 + 1280]); the pooled embedding is the second encoder's projected EOS state of the
 * first chunk. The UNet's added inputs are that pooled embedding ({@code text_embeds}) and the six
 * size-conditioning time ids ({@code time_ids}). Without a negative prompt the unconditional row is all zeros
 * where the model says {@code force_zeros_for_empty_prompt} (SDXL base does), not the encoding of "".
 * A "!" typed in a prompt is read as the second tokenizer of the diffusers folder reads it (its pad token,
 * id 0), where A1111's open_clip tokenizer would read it as the BPE token "!"; SD 2.x reads it the same way.
 */
public final class SdxlConditioner implements TextConditioner {
    private final ClipTextEncoder encoder1;
    private final ClipTextEncoder encoder2;
    private final ClipTokenizer tokenizer1;
    private final ClipTokenizer tokenizer2;
    private final String missingTokenizers;
    private final boolean zerosForEmptyNegative;
    private final PromptChunker chunker1;
    private final PromptChunker chunker2;
    private final String executableKey1;
    private final String executableKey2;

    private SdxlConditioner(ClipTextEncoder encoder1, ClipTextEncoder encoder2, ClipTokenizer tokenizer1,
                            ClipTokenizer tokenizer2, String missingTokenizers, boolean zerosForEmptyNegative) {
        this(encoder1, encoder2, tokenizer1, tokenizer2, missingTokenizers, zerosForEmptyNegative, "", "");
    }

    private SdxlConditioner(ClipTextEncoder encoder1, ClipTextEncoder encoder2, ClipTokenizer tokenizer1,
                            ClipTokenizer tokenizer2, String missingTokenizers, boolean zerosForEmptyNegative,
                            String executableKey1, String executableKey2) {
        if (encoder2.projectionDim() == 0) {
            throw new IllegalArgumentException("SDXL's second text encoder needs its text_projection");
        }
        this.encoder1 = encoder1;
        this.encoder2 = encoder2;
        this.tokenizer1 = tokenizer1;
        this.tokenizer2 = tokenizer2;
        this.missingTokenizers = missingTokenizers;
        this.zerosForEmptyNegative = zerosForEmptyNegative;
        this.chunker1 = tokenizer1 == null ? null : new PromptChunker(tokenizer1);
        this.chunker2 = tokenizer2 == null ? null : new PromptChunker(tokenizer2);
        this.executableKey1 = executableKey1.isEmpty() ? "" : executableKey1 + "/";
        this.executableKey2 = executableKey2.isEmpty() ? "" : executableKey2 + "/";
    }

    /** @param zerosForEmptyNegative model_index.json's {@code force_zeros_for_empty_prompt} (true for SDXL base) */
    public static SdxlConditioner withTokenizers(ClipTextEncoder encoder1, ClipTextEncoder encoder2,
                                                 ClipTokenizer tokenizer1, ClipTokenizer tokenizer2,
                                                 boolean zerosForEmptyNegative) {
        return new SdxlConditioner(encoder1, encoder2, tokenizer1, tokenizer2, null, zerosForEmptyNegative);
    }

    /** A conditioner whose model came without tokenizers: encoding fails with {@code whatToSupply}. */
    public static SdxlConditioner withoutTokenizers(ClipTextEncoder encoder1, ClipTextEncoder encoder2, String whatToSupply) {
        return new SdxlConditioner(encoder1, encoder2, null, null, whatToSupply, true);
    }

    @Override
    public int contextDim() {
        return encoder1.hiddenSize() + encoder2.hiddenSize();
    }

    /**
     * Encodes the prompts as A1111 does for SDXL ({@code modules/sd_hijack_clip.py}, {@code sd_models_xl.py}):
     * each encoder reads the prompt through its own tokenizer, parsed for emphasis and split into the same
     * 77-token chunks ({@link ChunkedPrompts}); each encoder's chunks are weighted on their own
     * ({@link io.jdiffusion.models.prompt.Emphasis}, the mean restored per encoder and chunk) and
     * concatenated along the token axis, then the two contexts are put side by side along the feature axis:
     * [batch, 77 * chunks, 768 + 1280]. A one-chunk prompt without emphasis gives diffusers' embeddings
     * exactly.
     */
    @Override
    public Conditioning encode(ConditioningInput input, NetworkRunner runner) {
        if (tokenizer1 == null) {
            throw new ModelLoadException(missingTokenizers);
        }
        List<String> prompts = PromptBatch.prompts(input);
        List<ChunkedPrompts> chunked = ChunkedPrompts.of(List.of(chunker1, chunker2), prompts);
        ChunkedPrompts chunks1 = chunked.get(0);
        ChunkedPrompts chunks2 = chunked.get(1);
        int batch = prompts.size();
        int rows = chunks1.rows();
        int tokens = chunks1.tokens();
        if (chunks2.tokens() != tokens || encoder1.maxPositions() != tokens || encoder2.maxPositions() != tokens) {
            throw new IllegalStateException("SDXL's tokenizers and encoders must agree on the sequence length");
        }
        long[] ids2 = chunks2.ids();
        long[] eos = ClipTextEncoder.poolingIndices(ids2, rows, tokens);
        Backend backend = runner.backend();
        Executable exe1 = runner.executable(executableKey1 + "text_encoder/penultimate/" + rows,
                () -> encoder1.penultimateGraph(rows, false));
        Executable exe2 = runner.executable(executableKey2 + "text_encoder_2/penultimate+pooled/" + rows,
                () -> encoder2.penultimateGraph(rows, true));
        float[] hidden1;
        float[] hidden2;
        float[] pooledPerChunk;
        try (Tensor hostIds1 = Tensor.ofLongs(Shape.of(rows, tokens), chunks1.ids());
             Tensor hostIds2 = Tensor.ofLongs(Shape.of(rows, tokens), ids2);
             Tensor hostEos = Tensor.ofLongs(Shape.of(rows), eos);
             DeviceTensor dIds1 = backend.upload(hostIds1);
             DeviceTensor dIds2 = backend.upload(hostIds2);
             DeviceTensor dEos = backend.upload(hostEos);
             DeviceTensor h1 = backend.allocate(exe1.graph().outputs().get(0).shape(), DType.F32);
             DeviceTensor h2 = backend.allocate(exe2.graph().outputs().get(0).shape(), DType.F32);
             DeviceTensor p2 = backend.allocate(exe2.graph().outputs().get(1).shape(), DType.F32)) {
            exe1.run(List.of(dIds1), List.of(h1));
            exe2.run(List.of(dIds2, dEos), List.of(h2, p2));
            hidden1 = download(backend, h1);
            hidden2 = download(backend, h2);
            pooledPerChunk = download(backend, p2);
        }
        int d1 = encoder1.hiddenSize();
        int d2 = encoder2.hiddenSize();
        int width = d1 + d2;
        chunks1.emphasize(hidden1, d1);
        chunks2.emphasize(hidden2, d2);
        // rows are prompt-major: row r, token t is position (r % chunks) * 77 + t of prompt r / chunks
        float[] context = new float[rows * tokens * width];
        for (int row = 0; row < rows * tokens; row++) {
            System.arraycopy(hidden1, row * d1, context, row * width, d1);
            System.arraycopy(hidden2, row * d2, context, row * width + d1, d2);
        }
        // A1111 takes the pooled embedding of a prompt's first chunk only: FrozenCLIPEmbedderWithCustomWordsBase
        // .forward in modules/sd_hijack_clip.py returns "torch.hstack(zs), zs[0].pooled" (the pooled output is
        // kept from before emphasis, in process_tokens)
        int projection = encoder2.projectionDim();
        float[] pooled = new float[batch * projection];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(pooledPerChunk, b * chunks1.chunks() * projection, pooled, b * projection, projection);
        }
        if (input.guided() && input.negativePrompt().isEmpty() && zerosForEmptyNegative) {
            // diffusers' force_zeros_for_empty_prompt, A1111's force_zero_negative_prompt (sd_models_xl.py): the
            // empty negative's own chunk and its pooled row are zeros; the chunks it is padded with to the
            // prompt's length are the encoding of "", as A1111's pad_cond_uncond pads with
            // cond_stage_model_empty_prompt
            Arrays.fill(context, 0, chunks1.ownChunks(0) * tokens * width, 0f);
            Arrays.fill(pooled, 0, projection, 0f);
        }
        float[] ids = input.sizeConditioning().timeIds(input.width(), input.height());
        float[] timeIds = new float[batch * UNetConfig.TIME_IDS];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(ids, 0, timeIds, b * UNetConfig.TIME_IDS, UNetConfig.TIME_IDS);
        }
        DeviceTensor dContext = null;
        DeviceTensor dPooled = null;
        DeviceTensor dTextEmbeds = null;
        DeviceTensor dTimeIds = null;
        try {
            dContext = upload(backend, Shape.of(batch, chunks1.contextTokens(), width), context);
            dPooled = upload(backend, Shape.of(batch, encoder2.projectionDim()), pooled);
            dTextEmbeds = upload(backend, Shape.of(batch, encoder2.projectionDim()), pooled);
            dTimeIds = upload(backend, Shape.of(batch, UNetConfig.TIME_IDS), timeIds);
            Map<String, DeviceTensor> added = new LinkedHashMap<>();
            added.put(UNet2DConditionModel.TEXT_EMBEDS, dTextEmbeds);
            added.put(UNet2DConditionModel.TIME_IDS, dTimeIds);
            return new Conditioning(dContext, dPooled, added, List.of());
        } catch (RuntimeException e) {
            for (DeviceTensor t : new DeviceTensor[]{dContext, dPooled, dTextEmbeds, dTimeIds}) {
                if (t != null) {
                    t.close();
                }
            }
            throw e;
        }
    }

    /**
     * This conditioner with other text encoders of the same architectures (the model's with LoRAs merged),
     * sharing the tokenizers; a non-empty key keeps an encoder's compiled calls apart from the base one's.
     */
    @Override
    public SdxlConditioner withTextEncoders(List<ClipTextEncoder> encoders, List<String> executableKeys) {
        if (encoders.size() != 2 || executableKeys.size() != 2) {
            throw new IllegalArgumentException("SDXL has two text encoders, got " + encoders.size());
        }
        return new SdxlConditioner(encoders.get(0), encoders.get(1), tokenizer1, tokenizer2, missingTokenizers,
                zerosForEmptyNegative, executableKeys.get(0), executableKeys.get(1));
    }

    private static float[] download(Backend backend, DeviceTensor t) {
        try (Tensor host = backend.download(t)) {
            return host.toFloatArray();
        }
    }

    private static DeviceTensor upload(Backend backend, Shape shape, float[] data) {
        try (Tensor host = Tensor.ofFloats(shape, data)) {
            return backend.upload(host);
        }
    }
}
