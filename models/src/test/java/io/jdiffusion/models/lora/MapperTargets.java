package io.jdiffusion.models.lora;

import io.jdiffusion.core.Shape;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Three modules of a small model (a UNet attention's to_q and to_out.0, a text encoder MLP's fc1) under the LoRA
 * prefixes a real model answers to: kohya's underscored names and diffusers/PEFT's dotted ones. Shared by the key
 * mapper's unit test and its fuzz target, so both speak of the same model.
 */
final class MapperTargets {
    static final LoraTargets.Module TO_Q = new LoraTargets.Module(LoraTargets.UNET,
            "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight", Shape.of(32, 32));
    static final LoraTargets.Module TO_OUT = new LoraTargets.Module(LoraTargets.UNET,
            "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0.weight", Shape.of(32, 32));
    static final LoraTargets.Module FC1 = new LoraTargets.Module(LoraTargets.TEXT_ENCODER,
            "encoder.layers.0.mlp.fc1.weight", Shape.of(37, 32));
    static final List<LoraTargets.Module> ALL = List.of(TO_Q, TO_OUT, FC1);
    static final LoraTargets TARGETS = targets();

    private MapperTargets() {
    }

    private static LoraTargets targets() {
        Map<String, LoraTargets.Module> m = new LinkedHashMap<>();
        m.put("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q", TO_Q);
        m.put("unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q", TO_Q);
        m.put("unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0", TO_OUT);
        m.put("lora_te_text_model_encoder_layers_0_mlp_fc1", FC1);
        m.put("text_encoder.text_model.encoder.layers.0.mlp.fc1", FC1);
        return LoraTargets.of(m);
    }
}
