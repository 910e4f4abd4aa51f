package io.jdiffusion.models.lora;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.testing.FuzzContract;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The LoRA key mapper under the fuzzer: any set of tensor names (the input's lines) maps to down/up pairs of
 * the model's modules, or is refused with a {@link LoraException}. Seeds: kohya, PEFT and attention-processor
 * name sets and the unsupported kinds, in
 * src/test/resources/io/jdiffusion/models/lora/LoraKeyMapperFuzzTestInputs/map.
 */
class LoraKeyMapperFuzzTest {
    private static final LoraTargets.Module TO_Q = new LoraTargets.Module(LoraTargets.UNET,
            "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight", Shape.of(32, 32));
    private static final LoraTargets.Module TO_OUT = new LoraTargets.Module(LoraTargets.UNET,
            "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0.weight", Shape.of(32, 32));
    private static final LoraTargets.Module FC1 = new LoraTargets.Module(LoraTargets.TEXT_ENCODER,
            "encoder.layers.0.mlp.fc1.weight", Shape.of(37, 32));
    private static final LoraTargets TARGETS = targets();

    private static LoraTargets targets() {
        Map<String, LoraTargets.Module> m = new LinkedHashMap<>();
        m.put("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q", TO_Q);
        m.put("unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q", TO_Q);
        m.put("unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0", TO_OUT);
        m.put("lora_te_text_model_encoder_layers_0_mlp_fc1", FC1);
        m.put("text_encoder.text_model.encoder.layers.0.mlp.fc1", FC1);
        return LoraTargets.of(m);
    }

    @FuzzTest(maxDuration = "10s")
    void map(byte[] input) {
        Set<String> keys = new LinkedHashSet<>(List.of(new String(input, StandardCharsets.UTF_8).split("\n", -1)));
        FuzzContract.check(LoraException.class, input.length, () -> {
            List<LoraModule> modules = LoraKeyMapper.map(keys, TARGETS, "lora.safetensors");
            for (LoraModule m : modules) {
                assertThat(keys).contains(m.downKey(), m.upKey());
                assertThat(List.of(TO_Q, TO_OUT, FC1)).contains(m.target());
            }
        });
    }
}
