package io.jdiffusion.models.lora;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.conditioning.Conditioning;
import io.jdiffusion.models.conditioning.ConditioningInput;
import io.jdiffusion.models.pipeline.GenerationRequest;
import io.jdiffusion.models.pipeline.GenerationResult;
import io.jdiffusion.models.pipeline.NetworkRunner;
import io.jdiffusion.models.pipeline.ProgressListener;
import io.jdiffusion.models.pipeline.StableDiffusionPipeline;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.models.testsupport.Golden;
import io.jdiffusion.models.testsupport.ModelFiles;
import io.jdiffusion.models.weights.Parameter;
import io.jdiffusion.testdata.GoldenSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * SDXL LoRAs on tiny-sdxl, from files written here: kohya names (lora_te1_/lora_te2_, the UNet in LDM and in
 * diffusers spelling, LoCon convolutions) and PEFT names (unet., text_encoder., text_encoder_2.) merge into the
 * right weight of the right network as W + weight * alpha / rank * up . down (against float64); each text
 * encoder's LoRA reaches its own half of the context; weight 0 leaves everything bit-identical.
 * tiny-sdxl's LDM layout (layers_per_block 1, levels [DownBlock2D, CrossAttnDownBlock2D]): input_blocks.1 is
 * down_blocks.0's resnet, input_blocks.3 = down_blocks.1 (resnet .0, attention .1, two transformer blocks),
 * output_blocks.0/1 = up_blocks.0 (attention .1, its upsampler output_blocks.1.2).
 */
class SdxlLoraTest {
    private static final GoldenSet SET = GoldenSet.TINY_SDXL;
    /** kohya name -> (network, parameter), written out by hand from the layout above. */
    private static final Map<String, String[]> KOHYA = new LinkedHashMap<>();
    /** PEFT module path -> (network, parameter). */
    private static final Map<String, String[]> PEFT = new LinkedHashMap<>();

    static {
        KOHYA.put("lora_te1_text_model_encoder_layers_0_self_attn_q_proj", new String[]{"te1", "encoder.layers.0.self_attn.q_proj.weight"});
        KOHYA.put("lora_te2_text_model_encoder_layers_1_self_attn_v_proj", new String[]{"te2", "encoder.layers.1.self_attn.v_proj.weight"});
        KOHYA.put("lora_te2_text_model_encoder_layers_2_mlp_fc1", new String[]{"te2", "encoder.layers.2.mlp.fc1.weight"});
        KOHYA.put("lora_unet_input_blocks_3_1_transformer_blocks_1_attn2_to_k",
                new String[]{"unet", "down_blocks.1.attentions.0.transformer_blocks.1.attn2.to_k.weight"});
        KOHYA.put("lora_unet_middle_block_1_transformer_blocks_1_attn1_to_out_0",
                new String[]{"unet", "mid_block.attentions.0.transformer_blocks.1.attn1.to_out.0.weight"});
        KOHYA.put("lora_unet_output_blocks_1_1_proj_out", new String[]{"unet", "up_blocks.0.attentions.1.proj_out.weight"});
        KOHYA.put("lora_unet_down_blocks_1_attentions_0_transformer_blocks_1_ff_net_0_proj",
                new String[]{"unet", "down_blocks.1.attentions.0.transformer_blocks.1.ff.net.0.proj.weight"});
        KOHYA.put("lora_unet_input_blocks_1_0_in_layers_2", new String[]{"unet", "down_blocks.0.resnets.0.conv1.weight"});
        KOHYA.put("lora_unet_output_blocks_1_2_conv", new String[]{"unet", "up_blocks.0.upsamplers.0.conv.weight"});
        PEFT.put("unet.down_blocks.1.attentions.0.transformer_blocks.1.attn1.to_q",
                new String[]{"unet", "down_blocks.1.attentions.0.transformer_blocks.1.attn1.to_q.weight"});
        PEFT.put("unet.up_blocks.0.attentions.0.transformer_blocks.1.attn2.to_v",
                new String[]{"unet", "up_blocks.0.attentions.0.transformer_blocks.1.attn2.to_v.weight"});
        PEFT.put("text_encoder.text_model.encoder.layers.1.mlp.fc2", new String[]{"te1", "encoder.layers.1.mlp.fc2.weight"});
        PEFT.put("text_encoder_2.text_model.encoder.layers.0.self_attn.out_proj",
                new String[]{"te2", "encoder.layers.0.self_attn.out_proj.weight"});
    }

    private static StableDiffusion model;
    private static Backend cpu;

    @BeforeAll
    static void open() {
        model = StableDiffusion.load(SET.modelDir(), null);
        cpu = Backends.create("cpu");
    }

    @AfterAll
    static void close() {
        cpu.close();
        model.close();
    }

    private static List<Parameter> parameters(AdaptedNetworks a, String network) {
        return switch (network) {
            case "unet" -> a.unet().parameters();
            case "te1" -> a.textEncoders().get(0).parameters();
            default -> a.textEncoders().get(1).parameters();
        };
    }

    private static Tensor parameter(List<Parameter> ps, String name) {
        return ps.stream().filter(p -> p.name().equals(name)).findFirst().map(Parameter::tensor).orElseThrow(() -> new AssertionError(name));
    }

    private static Tensor random(SplittableRandom rng, DType dtype, long... dims) {
        float[] v = new float[Math.toIntExact(Shape.of(dims).elementCount())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (0.3 * rng.nextGaussian());
        }
        try (Tensor f32 = Tensor.ofFloats(Shape.of(dims), v)) {
            return f32.to(dtype);
        }
    }

    /** One pair per module (rank 2, 3 or 4 in turn; convolutions as LoCon kernels), with alpha where given. */
    private record Written(Path file, Map<String, Tensor[]> pairs, Map<String, Float> alphas) {
    }

    private static Written write(Path file, Map<String, String[]> modules, String downSuffix, String upSuffix,
                                 boolean withAlpha, DType dtype) {
        SplittableRandom rng = new SplittableRandom(file.getFileName().toString().hashCode());
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Map<String, Tensor[]> pairs = new LinkedHashMap<>();
        Map<String, Float> alphas = new LinkedHashMap<>();
        AdaptedNetworks base = new AdaptedNetworks(model.unet(), "", model.textEncoders(), List.of("", ""), List.of());
        int i = 0;
        for (var e : modules.entrySet()) {
            Shape w = parameter(parameters(base, e.getValue()[0]), e.getValue()[1]).shape();
            int rank = 2 + i % 3;
            Tensor down = w.rank() == 4 ? random(rng, dtype, rank, w.dim(1), w.dim(2), w.dim(3)) : random(rng, dtype, rank, w.dim(1));
            Tensor up = w.rank() == 4 ? random(rng, dtype, w.dim(0), rank, 1, 1) : random(rng, dtype, w.dim(0), rank);
            tensors.put(e.getKey() + downSuffix, down);
            tensors.put(e.getKey() + upSuffix, up);
            pairs.put(e.getKey(), new Tensor[]{down, up});
            if (withAlpha) {
                float alpha = 1f + i;
                alphas.put(e.getKey(), alpha);
                tensors.put(e.getKey() + ".alpha", Tensor.ofFloats(Shape.of(), alpha));
            }
            i++;
        }
        ModelFiles.write(file, tensors);
        return new Written(file, pairs, alphas);
    }

    /** W + weight * alpha / rank * up . down in float64 from the file's values. */
    private static Tensor expected(Tensor base, Tensor down, Tensor up, double scale) {
        int out = Math.toIntExact(base.shape().dim(0));
        int in = Math.toIntExact(base.elementCount() / out);
        int rank = Math.toIntExact(down.shape().dim(0));
        float[] w = base.toFloatArray();
        float[] d = down.toFloatArray();
        float[] u = up.toFloatArray();
        float[] result = new float[w.length];
        for (int o = 0; o < out; o++) {
            for (int j = 0; j < in; j++) {
                double sum = 0;
                for (int r = 0; r < rank; r++) {
                    sum += (double) u[o * rank + r] * d[r * in + j];
                }
                result[o * in + j] = (float) (w[o * in + j] + scale / rank * sum);
            }
        }
        return Tensor.ofFloats(base.shape(), result);
    }

    private static void checkMerged(Written written, Map<String, String[]> modules, double weight) {
        try (LoraNetworks networks = new LoraNetworks(model.unet(), model.textEncoders(), k -> { })) {
            AdaptedNetworks a = networks.networks(List.of(LoraUse.of(written.file(), weight)));
            AdaptedNetworks base = networks.networks(List.of());
            assertThat(a.unetKey()).isNotEmpty();
            assertThat(a.textEncoderKeys()).allSatisfy(k -> assertThat(k).isNotEmpty());
            for (var e : modules.entrySet()) {
                String network = e.getValue()[0];
                String name = e.getValue()[1];
                Tensor[] pair = written.pairs().get(e.getKey());
                int rank = Math.toIntExact(pair[0].shape().dim(0));
                double alpha = written.alphas().getOrDefault(e.getKey(), (float) rank);
                Tensor original = parameter(parameters(base, network), name);
                Tensor merged = parameter(parameters(a, network), name);
                try (Tensor reference = expected(original, pair[0], pair[1], weight * alpha)) {
                    Golden.check(e.getKey() + " merged", merged, reference, 1e-6);
                }
                // the change is far above the tolerance, so a LoRA merged into the wrong weight cannot pass
                assertThat(io.jdiffusion.core.Numerics.relativeL2(merged, original)).as(e.getKey()).isGreaterThan(1e-2);
            }
            // every other weight is the base tensor itself
            for (String network : List.of("unet", "te1", "te2")) {
                List<String> changed = modules.values().stream().filter(v -> v[0].equals(network)).map(v -> v[1]).toList();
                for (Parameter p : parameters(a, network)) {
                    if (!changed.contains(p.name())) {
                        assertThat(p.tensor()).as(network + " " + p.name()).isSameAs(parameter(parameters(base, network), p.name()));
                    }
                }
            }
        }
    }

    @Test
    void kohyaNamesMergeIntoBothTextEncodersAndTheUNetInLdmAndDiffusersSpelling(@TempDir Path dir) {
        Written w = write(dir.resolve("kohya.safetensors"), KOHYA, ".lora_down.weight", ".lora_up.weight", true, DType.F32);
        checkMerged(w, KOHYA, 0.7);
    }

    /** diffusers/PEFT names without alpha (scale 1), stored in F16: the merge is computed in F32. */
    @Test
    void peftNamesMergeIntoEachNetwork(@TempDir Path dir) {
        Written w = write(dir.resolve("peft.safetensors"), PEFT, ".lora_A.weight", ".lora_B.weight", false, DType.F16);
        checkMerged(w, PEFT, 1.3);
    }

    /**
     * A LoRA on text_encoder changes only the first 32 features of each context token and not the pooled
     * embedding; one on text_encoder_2 changes only the last 48 and the pooled embedding.
     */
    @Test
    void eachTextEncodersLoraReachesItsHalfOfTheContext(@TempDir Path dir) {
        Map<String, String[]> te1 = Map.of("lora_te1_text_model_encoder_layers_0_self_attn_q_proj", KOHYA.get("lora_te1_text_model_encoder_layers_0_self_attn_q_proj"));
        Map<String, String[]> te2 = Map.of("lora_te2_text_model_encoder_layers_2_mlp_fc1", KOHYA.get("lora_te2_text_model_encoder_layers_2_mlp_fc1"));
        Path f1 = write(dir.resolve("te1.safetensors"), te1, ".lora_down.weight", ".lora_up.weight", true, DType.F32).file();
        Path f2 = write(dir.resolve("te2.safetensors"), te2, ".lora_down.weight", ".lora_up.weight", true, DType.F32).file();
        try (LoraNetworks networks = new LoraNetworks(model.unet(), model.textEncoders(), k -> { });
             NetworkRunner runner = new NetworkRunner(cpu, Precision.F32)) {
            float[][] base = encode(networks.networks(List.of()), runner);
            AdaptedNetworks a1 = networks.networks(List.of(LoraUse.of(f1, 1.0)));
            assertThat(a1.unetKey()).isEmpty();
            assertThat(a1.textEncoderKeys().get(1)).isEmpty();
            assertThat(a1.textEncoders().get(1)).isSameAs(model.textEncoder2());
            float[][] with1 = encode(a1, runner);
            AdaptedNetworks a2 = networks.networks(List.of(LoraUse.of(f2, 1.0)));
            assertThat(a2.textEncoderKeys().get(0)).isEmpty();
            float[][] with2 = encode(a2, runner);
            assertThat(features(with1[0], 0, 32)).isNotEqualTo(features(base[0], 0, 32));
            assertThat(features(with1[0], 32, 80)).isEqualTo(features(base[0], 32, 80));
            assertThat(with1[1]).isEqualTo(base[1]);
            assertThat(features(with2[0], 0, 32)).isEqualTo(features(base[0], 0, 32));
            assertThat(features(with2[0], 32, 80)).isNotEqualTo(features(base[0], 32, 80));
            assertThat(with2[1]).isNotEqualTo(base[1]);
        }
    }

    private static float[][] encode(AdaptedNetworks a, NetworkRunner runner) {
        var conditioner = a.baseTextEncoders() ? model.conditioner()
                : model.conditioner().withTextEncoders(a.textEncoders(), a.textEncoderKeys());
        try (Conditioning c = conditioner.encode(new ConditioningInput("a photograph of an astronaut", "", false, 32, 32), runner);
             Tensor context = cpu.download(c.context());
             Tensor pooled = cpu.download(c.pooled())) {
            return new float[][]{context.toFloatArray(), pooled.toFloatArray()};
        }
    }

    private static float[] features(float[] context, int from, int to) {
        List<Float> out = new ArrayList<>();
        for (int t = 0; t < context.length / 80; t++) {
            for (int d = from; d < to; d++) {
                out.add(context[t * 80 + d]);
            }
        }
        float[] f = new float[out.size()];
        for (int i = 0; i < f.length; i++) {
            f[i] = out.get(i);
        }
        return f;
    }

    /** Weight 0, as a tag or a file, runs the base model: the latents are bit-identical; weight 1 changes them. */
    @Test
    void weightZeroOrNoLoraIsBitIdenticalToTheBase(@TempDir Path dir) {
        Written w = write(dir.resolve("xl_lora.safetensors"), KOHYA, ".lora_down.weight", ".lora_up.weight", true, DType.F32);
        try (StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model, cpu, Precision.F32)) {
            float[] base = latents(pipeline, GenerationRequest.builder().prompt("a horse"));
            float[] zeroTag = latents(pipeline, GenerationRequest.builder().prompt("a horse <lora:xl_lora:0>").loraDir(dir));
            float[] zeroFile = latents(pipeline, GenerationRequest.builder().prompt("a horse").loras(List.of(LoraUse.of(w.file(), 0))));
            float[] one = latents(pipeline, GenerationRequest.builder().prompt("a horse <lora:xl_lora:1>").loraDir(dir));
            float[] again = latents(pipeline, GenerationRequest.builder().prompt("a horse"));
            assertThat(zeroTag).containsExactly(base);
            assertThat(zeroFile).containsExactly(base);
            assertThat(again).containsExactly(base);
            assertThat(one).isNotEqualTo(base);
            for (float v : one) {
                assertThat(Float.isFinite(v)).isTrue();
            }
        }
    }

    private static float[] latents(StableDiffusionPipeline pipeline, GenerationRequest.Builder request) {
        try (GenerationResult r = pipeline.generate(request.steps(2).size(32, 32).seed(5).guidanceScale(5f).build(), ProgressListener.NONE)) {
            return r.latents();
        }
    }

    @Test
    void unknownKeysAndRankMismatchesAreOneClearError(@TempDir Path dir) {
        LoraTargets targets = LoraTargets.of(model.unet(), model.textEncoders());
        // an SD 1.x text-encoder prefix names nothing on SDXL; the first few are listed
        List<String> keys = new ArrayList<>();
        for (int l = 0; l < 7; l++) {
            keys.add("lora_te_text_model_encoder_layers_" + l + "_mlp_fc1.lora_down.weight");
            keys.add("lora_te_text_model_encoder_layers_" + l + "_mlp_fc1.lora_up.weight");
        }
        assertThatThrownBy(() -> LoraKeyMapper.map(new java.util.HashSet<>(keys), targets, "LoRA sd15.safetensors"))
                .isInstanceOf(LoraException.class)
                .hasMessageStartingWith("LoRA sd15.safetensors: 14 tensors name no module of this model (a LoRA for another model family?), e.g. "
                        + "lora_te_text_model_encoder_layers_0_mlp_fc1.lora_down.weight, ")
                .hasMessageEndingWith(", ...");
        String k = "lora_te2_text_model_encoder_layers_1_self_attn_v_proj";
        Path bad = dir.resolve("bad.safetensors");
        try (Tensor down = Tensor.allocate(Shape.of(4, 48), DType.F32); Tensor up = Tensor.allocate(Shape.of(48, 3), DType.F32)) {
            ModelFiles.write(bad, Map.of(k + ".lora_down.weight", down, k + ".lora_up.weight", up));
        }
        assertThatThrownBy(() -> LoraFile.open(bad, targets)).isInstanceOf(LoraException.class)
                .hasMessage("LoRA bad.safetensors: rank mismatch in " + k + ": " + k + ".lora_down.weight is [4, 48] (rank 4) but "
                        + k + ".lora_up.weight is [48, 3]");
    }
}
