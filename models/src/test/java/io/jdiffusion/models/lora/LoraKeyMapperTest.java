package io.jdiffusion.models.lora;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static io.jdiffusion.models.lora.MapperTargets.FC1;
import static io.jdiffusion.models.lora.MapperTargets.TARGETS;
import static io.jdiffusion.models.lora.MapperTargets.TO_OUT;
import static io.jdiffusion.models.lora.MapperTargets.TO_Q;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link LoraKeyMapper} on names alone: every supported spelling, and one clear error for each kind of bad file. */
class LoraKeyMapperTest {
    @Test
    void kohyaNamesWithAlpha() {
        String k = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q";
        List<LoraModule> modules = LoraKeyMapper.map(Set.of(k + ".lora_down.weight", k + ".lora_up.weight", k + ".alpha"), TARGETS);
        assertThat(modules).containsExactly(new LoraModule(TO_Q, k, k + ".lora_down.weight", k + ".lora_up.weight", k + ".alpha"));
    }

    @Test
    void peftNamesWithoutAlpha() {
        String k = "text_encoder.text_model.encoder.layers.0.mlp.fc1";
        List<LoraModule> modules = LoraKeyMapper.map(Set.of(k + ".lora_A.weight", k + ".lora_B.weight"), TARGETS);
        assertThat(modules).containsExactly(new LoraModule(FC1, k, k + ".lora_A.weight", k + ".lora_B.weight", null));
    }

    @Test
    void olderDiffusersAttentionProcessorNames() {
        String p = "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_out_lora";
        List<LoraModule> modules = LoraKeyMapper.map(Set.of(p + ".down.weight", p + ".up.weight"), TARGETS);
        assertThat(modules).singleElement().satisfies(m -> {
            assertThat(m.target()).isEqualTo(TO_OUT);
            assertThat(m.downKey()).isEqualTo(p + ".down.weight");
        });
    }

    @Test
    void unknownKeysAreListedFirstFew() {
        Set<String> keys = new java.util.TreeSet<>();
        for (int i = 0; i < 8; i++) {
            keys.add("lora_unet_input_blocks_" + i + "_1_proj_in.lora_down.weight");
            keys.add("lora_unet_input_blocks_" + i + "_1_proj_in.lora_up.weight");
        }
        assertThatThrownBy(() -> LoraKeyMapper.map(keys, TARGETS, "LoRA x.safetensors"))
                .isInstanceOf(LoraException.class)
                .hasMessageStartingWith("LoRA x.safetensors: 16 tensors name no module of this model")
                .hasMessageContaining("lora_unet_input_blocks_0_1_proj_in.lora_down.weight, ")
                .hasMessageEndingWith(", ...")
                .hasMessageNotContaining("\n");
    }

    @Test
    void unsupportedAdapterKindsAreNamed() {
        String k = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q";
        assertThatThrownBy(() -> LoraKeyMapper.map(Set.of(k + ".hada_w1_a", k + ".hada_w1_b", k + ".alpha"), TARGETS))
                .isInstanceOf(LoraException.class).hasMessageContaining("LyCORIS LoHa (hada_*) is not supported");
        assertThatThrownBy(() -> LoraKeyMapper.map(Set.of(k + ".lora_down.weight", k + ".lora_up.weight",
                k + ".lora_mid.weight"), TARGETS)).isInstanceOf(LoraException.class).hasMessageContaining("lora_mid");
    }

    @Test
    void aPairWithoutItsPartnerIsNamed() {
        String k = "lora_te_text_model_encoder_layers_0_mlp_fc1";
        assertThatThrownBy(() -> LoraKeyMapper.map(Set.of(k + ".lora_down.weight", k + ".alpha"), TARGETS))
                .isInstanceOf(LoraException.class).hasMessageContaining(k + " has no up (B) tensor");
    }

    @Test
    void twoNamesForOneWeightAreRefused() {
        String a = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q";
        String b = "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q";
        assertThatThrownBy(() -> LoraKeyMapper.map(Set.of(a + ".lora_down.weight", a + ".lora_up.weight",
                b + ".lora_A.weight", b + ".lora_B.weight"), TARGETS))
                .isInstanceOf(LoraException.class).hasMessageContaining("both change unet weight " + TO_Q.parameter());
    }

    @Test
    void randomKeySetsMapOrFailWithLoraException() {
        String[] parts = {"lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q", "unet.", "lora_te1_x",
                "text_encoder.text_model.encoder.layers.0.mlp.fc1", ".lora_down.weight", ".lora_up.weight", ".lora_A.weight",
                ".lora_B.weight", ".alpha", ".hada_w1_a", ".processor.to_q_lora.down.weight", ".", "", "bundle_emb.x"};
        java.util.SplittableRandom rng = new java.util.SplittableRandom(5);
        for (int i = 0; i < 3_000; i++) {
            Set<String> keys = new java.util.HashSet<>();
            for (int k = rng.nextInt(5); k > 0; k--) {
                keys.add(parts[rng.nextInt(parts.length)] + parts[rng.nextInt(parts.length)]);
            }
            try {
                assertThat(LoraKeyMapper.map(keys, TARGETS)).isNotEmpty();
            } catch (LoraException expected) {
                assertThat(expected.getMessage()).startsWith("LoRA: ").doesNotContain("\n");
            }
        }
    }

    @Test
    void sdxlTextEncoderKeysSaySo() {
        assertThatThrownBy(() -> LoraKeyMapper.map(Set.of("lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_down.weight",
                "lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_up.weight"), TARGETS))
                .isInstanceOf(LoraException.class).hasMessageContaining("names of SDXL's two text encoders on a model with one: a LoRA for SDXL?");
    }

    @Test
    void emptyOrForeignFilesAreRefused() {
        assertThatThrownBy(() -> LoraKeyMapper.map(Set.of(), TARGETS)).isInstanceOf(LoraException.class)
                .hasMessageContaining("holds no LoRA tensors");
        assertThatThrownBy(() -> LoraKeyMapper.map(Set.of("model.diffusion_model.out.2.weight"), TARGETS))
                .isInstanceOf(LoraException.class).hasMessageContaining("1 tensor name no module");
        assertThatThrownBy(() -> LoraKeyMapper.map(null, TARGETS)).isInstanceOf(LoraException.class);
    }
}
