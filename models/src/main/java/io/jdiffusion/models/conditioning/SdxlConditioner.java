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
import io.jdiffusion.models.tokenizer.ClipTokenizer;
import io.jdiffusion.models.unet.UNet2DConditionModel;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * SDXL conditioning, as diffusers' {@code StableDiffusionXLPipeline.encode_prompt}: CLIP ViT-L and OpenCLIP
 * ViT-bigG each read the prompt with their own tokenizer (the second pads with "!"); the context is their
 * penultimate hidden states side by side ([batch, 77, 768 + 1280]); the pooled embedding is the second
 * encoder's projected EOS state. The UNet's added inputs are that pooled embedding ({@code text_embeds}) and
 * the six size-conditioning time ids ({@code time_ids}). Without a negative prompt the unconditional row is
 * all zeros where the model says {@code force_zeros_for_empty_prompt} (SDXL base does), not the encoding of "".
 */
public final class SdxlConditioner implements TextConditioner {
    private final ClipTextEncoder encoder1;
    private final ClipTextEncoder encoder2;
    private final ClipTokenizer tokenizer1;
    private final ClipTokenizer tokenizer2;
    private final String missingTokenizers;
    private final boolean zerosForEmptyNegative;

    private SdxlConditioner(ClipTextEncoder encoder1, ClipTextEncoder encoder2, ClipTokenizer tokenizer1,
                            ClipTokenizer tokenizer2, String missingTokenizers, boolean zerosForEmptyNegative) {
        if (encoder2.projectionDim() == 0) {
            throw new IllegalArgumentException("SDXL's second text encoder needs its text_projection");
        }
        this.encoder1 = encoder1;
        this.encoder2 = encoder2;
        this.tokenizer1 = tokenizer1;
        this.tokenizer2 = tokenizer2;
        this.missingTokenizers = missingTokenizers;
        this.zerosForEmptyNegative = zerosForEmptyNegative;
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

    @Override
    public Conditioning encode(ConditioningInput input, NetworkRunner runner) {
        if (tokenizer1 == null) {
            throw new ModelLoadException(missingTokenizers);
        }
        List<String> prompts = PromptBatch.prompts(input);
        List<String> warnings = PromptBatch.truncationWarnings(tokenizer1, prompts);
        int batch = prompts.size();
        int tokens = tokenizer1.maxLength();
        if (tokenizer2.maxLength() != tokens || encoder1.maxPositions() != tokens || encoder2.maxPositions() != tokens) {
            throw new IllegalStateException("SDXL's tokenizers and encoders must agree on the sequence length");
        }
        long[] ids1 = PromptBatch.ids(tokenizer1, prompts);
        long[] ids2 = PromptBatch.ids(tokenizer2, prompts);
        long[] eos = ClipTextEncoder.poolingIndices(ids2, batch, tokens);
        Backend backend = runner.backend();
        Executable exe1 = runner.executable("text_encoder/penultimate/" + batch, () -> encoder1.penultimateGraph(batch, false));
        Executable exe2 = runner.executable("text_encoder_2/penultimate+pooled/" + batch, () -> encoder2.penultimateGraph(batch, true));
        float[] hidden1;
        float[] hidden2;
        float[] pooled;
        try (Tensor hostIds1 = Tensor.ofLongs(Shape.of(batch, tokens), ids1);
             Tensor hostIds2 = Tensor.ofLongs(Shape.of(batch, tokens), ids2);
             Tensor hostEos = Tensor.ofLongs(Shape.of(batch), eos);
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
            pooled = download(backend, p2);
        }
        int d1 = encoder1.hiddenSize();
        int d2 = encoder2.hiddenSize();
        int width = d1 + d2;
        float[] context = new float[batch * tokens * width];
        for (int row = 0; row < batch * tokens; row++) {
            System.arraycopy(hidden1, row * d1, context, row * width, d1);
            System.arraycopy(hidden2, row * d2, context, row * width + d1, d2);
        }
        if (input.guided() && input.negativePrompt().isEmpty() && zerosForEmptyNegative) {
            Arrays.fill(context, 0, tokens * width, 0f);
            Arrays.fill(pooled, 0, encoder2.projectionDim(), 0f);
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
            dContext = upload(backend, Shape.of(batch, tokens, width), context);
            dPooled = upload(backend, Shape.of(batch, encoder2.projectionDim()), pooled);
            dTextEmbeds = upload(backend, Shape.of(batch, encoder2.projectionDim()), pooled);
            dTimeIds = upload(backend, Shape.of(batch, UNetConfig.TIME_IDS), timeIds);
            Map<String, DeviceTensor> added = new LinkedHashMap<>();
            added.put(UNet2DConditionModel.TEXT_EMBEDS, dTextEmbeds);
            added.put(UNet2DConditionModel.TIME_IDS, dTimeIds);
            return new Conditioning(dContext, dPooled, added, warnings);
        } catch (RuntimeException e) {
            for (DeviceTensor t : new DeviceTensor[]{dContext, dPooled, dTextEmbeds, dTimeIds}) {
                if (t != null) {
                    t.close();
                }
            }
            throw e;
        }
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
