package io.jdiffusion.models.lora;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import io.jdiffusion.backend.HostRunner;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.core.safetensors.SafetensorsFile;
import io.jdiffusion.models.clip.ClipTextEncoder;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.models.testsupport.Golden;
import io.jdiffusion.models.testsupport.ModelFiles;
import io.jdiffusion.models.unet.UNet2DConditionModel;
import io.jdiffusion.models.unet.UNetCall;
import io.jdiffusion.models.weights.Parameter;
import io.jdiffusion.testdata.TinySd;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The tiny-sd-lora goldens (kohya-format LoRA merged by diffusers/PEFT at scales 1.0 and 0.5) on the CPU
 * backend: UNet and text-encoder outputs, three merged weights, and the base networks left as they were.
 */
class LoraGoldenTest {
    /** The README's tolerance for model parts. */
    private static final double TOLERANCE = 1e-5;
    private static StableDiffusion model;
    private static SafetensorsFile golden;
    private static Backend cpu;
    private static Path lora;

    @BeforeAll
    static void open() {
        model = StableDiffusion.load(TinySd.modelDir(), null);
        golden = SafetensorsFile.open(TinySd.loraSetDir().resolve("golden/lora.safetensors"));
        cpu = Backends.create("cpu");
        lora = TinySd.loraSetDir().resolve("lora/tiny_lora.safetensors");
    }

    @AfterAll
    static void close() {
        cpu.close();
        golden.close();
        model.close();
    }

    private static double unetError(UNet2DConditionModel unet, String expectedKey, String label) {
        long t = golden.tensor("unet.timestep").getLong(0);
        try (Tensor timestep = Tensor.ofFloats(Shape.of(2), t, t)) {
            List<Tensor> out = HostRunner.run(cpu, unet.graph(new UNetCall(2, 16, 16, 77)), List.of(golden.tensor("unet.sample"),
                    timestep, golden.tensor("unet.encoder_hidden_states")));
            try {
                return Golden.check(label, out.getFirst(), golden.tensor(expectedKey), TOLERANCE);
            } finally {
                out.forEach(Tensor::close);
            }
        }
    }

    private static double textError(ClipTextEncoder encoder, String expectedKey, String label) {
        List<Tensor> out = HostRunner.run(cpu, encoder.graph(3), List.of(golden.tensor("te.input_ids")));
        try {
            return Golden.check(label, out.getFirst(), golden.tensor(expectedKey), TOLERANCE);
        } finally {
            out.forEach(Tensor::close);
        }
    }

    private static Tensor parameter(List<Parameter> ps, String name) {
        return ps.stream().filter(p -> p.name().equals(name)).findFirst().orElseThrow().tensor();
    }

    @Test
    void mergedAtScale1MatchesDiffusers() {
        try (LoraNetworks networks = new LoraNetworks(model.unet(), model.textEncoders(), k -> { })) {
            AdaptedNetworks a = networks.networks(List.of(LoraUse.of(lora, 1.0)));
            unetError(a.unet(), "scale10.unet.noise_pred", "lora unet scale 1.0");
            textError(a.textEncoder(), "scale10.te.last_hidden_state", "lora text encoder scale 1.0");
            Golden.check("lora merged to_q", parameter(a.unet().parameters(),
                    "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight"), golden.tensor("merged.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight"), 1e-6);
            Golden.check("lora merged proj_in (1x1 conv)", parameter(a.unet().parameters(),
                    "down_blocks.0.attentions.0.proj_in.weight"), golden.tensor("merged.down_blocks.0.attentions.0.proj_in.weight"), 1e-6);
            Golden.check("lora merged fc1", parameter(a.textEncoder().parameters(), "encoder.layers.0.mlp.fc1.weight"),
                    golden.tensor("merged.text_model.encoder.layers.0.mlp.fc1.weight"), 1e-6);
            assertThat(a.owned()).hasSize(102);
        }
    }

    @Test
    void mergedAtScaleHalfMatchesDiffusersAndTheBaseStaysAsItWas() {
        try (LoraNetworks networks = new LoraNetworks(model.unet(), model.textEncoders(), k -> { })) {
            AdaptedNetworks a = networks.networks(List.of(LoraUse.of(lora, 0.5)));
            unetError(a.unet(), "scale05.unet.noise_pred", "lora unet scale 0.5");
            textError(a.textEncoder(), "scale05.te.last_hidden_state", "lora text encoder scale 0.5");
            unetError(model.unet(), "base.unet.noise_pred", "base unet after a merge");
            textError(model.textEncoder(), "base.te.last_hidden_state", "base text encoder after a merge");
        }
    }

    @Test
    void unchangedWeightsAreTheBaseTensorsAndChangedOnesAreNew() {
        try (LoraNetworks networks = new LoraNetworks(model.unet(), model.textEncoders(), k -> { })) {
            AdaptedNetworks a = networks.networks(List.of(LoraUse.of(lora, 1.0)));
            List<Parameter> base = model.unet().parameters();
            List<Parameter> merged = a.unet().parameters();
            assertThat(merged).hasSameSizeAs(base);
            int same = 0;
            for (int i = 0; i < base.size(); i++) {
                if (base.get(i).tensor() == merged.get(i).tensor()) {
                    same++;
                } else {
                    assertThat(a.owned()).contains(merged.get(i).tensor());
                }
            }
            assertThat(base.size() - same).isEqualTo(72);
            // no LoRA, or weight 0: the base objects themselves, with empty executable keys
            AdaptedNetworks none = networks.networks(List.of());
            assertThat(none.unet()).isSameAs(model.unet());
            assertThat(none.isBase()).isTrue();
            assertThat(networks.networks(List.of(LoraUse.of(lora, 0.0))).isBase()).isTrue();
            // text encoder only: the UNet stays the base one
            AdaptedNetworks teOnly = networks.networks(List.of(new LoraUse(lora, 1.0, 0.0, null)));
            assertThat(teOnly.unet()).isSameAs(model.unet());
            assertThat(teOnly.unetKey()).isEmpty();
            assertThat(teOnly.textEncoderKey()).isNotEmpty();
        }
    }

    @Test
    void aRepeatedSetIsNotMergedAgainAndOldSetsAreEvicted() {
        List<String> evicted = new ArrayList<>();
        try (LoraNetworks networks = new LoraNetworks(model.unet(), model.textEncoders(), evicted::add)) {
            AdaptedNetworks first = networks.networks(List.of(LoraUse.of(lora, 1.0)));
            assertThat(networks.networks(List.of(LoraUse.of(lora, 1.0)))).isSameAs(first);
            networks.networks(List.of(LoraUse.of(lora, 0.5)));
            networks.networks(List.of(LoraUse.of(lora, 0.25)));
            assertThat(networks.cachedSets()).isEqualTo(LoraNetworks.CACHED_SETS);
            assertThat(evicted).containsExactly(first.unetKey(), first.textEncoderKey());
        }
    }

    @Test
    void aLeasedSetDroppedFromTheCacheIsFreedWhenItsLeaseEnds() {
        List<String> evicted = new ArrayList<>();
        try (LoraNetworks networks = new LoraNetworks(model.unet(), model.textEncoders(), evicted::add)) {
            LoraNetworks.Lease lease = networks.lease(List.of(LoraUse.of(lora, 1.0)));
            networks.networks(List.of(LoraUse.of(lora, 0.5)));
            networks.networks(List.of(LoraUse.of(lora, 0.25)));
            assertThat(evicted).isEmpty();
            assertThat(lease.networks().owned()).allMatch(Tensor::isOpen);
            lease.close();
            lease.close();
            assertThat(evicted).containsExactly(lease.networks().unetKey(), lease.networks().textEncoderKey());
            assertThat(lease.networks().owned()).noneMatch(Tensor::isOpen);
        }
    }

    @Test
    void acceptsBothTextEncoderSpellingsAndDiffusersNames(@TempDir Path dir) {
        Path shortPrefix = dir.resolve("short.safetensors");
        Path peft = dir.resolve("peft.safetensors");
        Map<String, String> dotted = new LinkedHashMap<>();
        for (Parameter p : model.unet().parameters()) {
            String m = p.name().substring(0, p.name().length() - ".weight".length());
            dotted.put("lora_unet_" + m.replace('.', '_'), "unet." + m);
        }
        for (Parameter p : model.textEncoder().parameters()) {
            String m = p.name().substring(0, p.name().length() - ".weight".length());
            dotted.put("lora_te_text_model_" + m.replace('.', '_'), "text_encoder.text_model." + m);
        }
        try (SafetensorsFile f = SafetensorsFile.open(lora)) {
            Map<String, Tensor> renamed = new LinkedHashMap<>();
            Map<String, Tensor> diffusers = new LinkedHashMap<>();
            for (String key : f.names()) {
                renamed.put(key.replace("lora_te_text_model_", "lora_te_"), f.tensor(key));
                int dot = key.indexOf('.');
                String module = dotted.get(key.substring(0, dot));
                String suffix = key.substring(dot).replace(".lora_down.", ".lora_A.").replace(".lora_up.", ".lora_B.");
                diffusers.put(module + suffix, f.tensor(key));
            }
            ModelFiles.write(shortPrefix, renamed);
            ModelFiles.write(peft, diffusers);
        }
        try (LoraNetworks networks = new LoraNetworks(model.unet(), model.textEncoders(), k -> { })) {
            for (Path file : List.of(shortPrefix, peft)) {
                AdaptedNetworks a = networks.networks(List.of(LoraUse.of(file, 1.0)));
                unetError(a.unet(), "scale10.unet.noise_pred", "lora unet " + file.getFileName());
                textError(a.textEncoder(), "scale10.te.last_hidden_state", "lora text encoder " + file.getFileName());
            }
        }
    }

    @Test
    void anF16FileMergesInF32(@TempDir Path dir) {
        Path half = dir.resolve("half.safetensors");
        try (SafetensorsFile f = SafetensorsFile.open(lora)) {
            Map<String, Tensor> converted = new LinkedHashMap<>();
            for (String key : f.names()) {
                converted.put(key, key.endsWith(".alpha") ? f.tensor(key) : f.tensor(key).to(DType.F16));
            }
            ModelFiles.write(half, converted);
            converted.forEach((k, t) -> {
                if (!k.endsWith(".alpha")) {
                    t.close();
                }
            });
        }
        String module = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q";
        String name = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight";
        try (LoraNetworks networks = new LoraNetworks(model.unet(), model.textEncoders(), k -> { });
             SafetensorsFile f = SafetensorsFile.open(half)) {
            AdaptedNetworks a = networks.networks(List.of(LoraUse.of(half, 1.0)));
            Tensor down = f.tensor(module + ".lora_down.weight");
            Tensor up = f.tensor(module + ".lora_up.weight");
            assertThat(down.dtype()).isEqualTo(DType.F16);
            Tensor base = parameter(model.unet().parameters(), name);
            int out = (int) base.shape().dim(0);
            int in = (int) base.shape().dim(1);
            int rank = (int) down.shape().dim(0);
            double scale = f.tensor(module + ".alpha").getFloat(0) / (double) rank;
            float[] expected = new float[out * in];
            for (int o = 0; o < out; o++) {
                for (int i = 0; i < in; i++) {
                    double sum = 0;
                    for (int k = 0; k < rank; k++) {
                        sum += (double) up.getFloat((long) o * rank + k) * down.getFloat((long) k * in + i);
                    }
                    expected[o * in + i] = (float) (base.getFloat((long) o * in + i) + scale * sum);
                }
            }
            try (Tensor reference = Tensor.ofFloats(base.shape(), expected)) {
                Golden.check("lora F16 file merged to_q vs float64", parameter(a.unet().parameters(), name), reference, 1e-6);
            }
            // what separates it from the F32 file's result is the F16 rounding of the factors (2^-11 relative)
            long t = golden.tensor("unet.timestep").getLong(0);
            try (Tensor timestep = Tensor.ofFloats(Shape.of(2), t, t)) {
                List<Tensor> outs = HostRunner.run(cpu, a.unet().graph(new UNetCall(2, 16, 16, 77)), List.of(golden.tensor("unet.sample"),
                        timestep, golden.tensor("unet.encoder_hidden_states")));
                Golden.check("lora unet from an F16 file", outs.getFirst(), golden.tensor("scale10.unet.noise_pred"), 2e-3);
                outs.forEach(Tensor::close);
            }
        }
    }
}
