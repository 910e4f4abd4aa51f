package io.jdiffusion.models.weights;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.models.sd.ModelConfigs;
import io.jdiffusion.testdata.TinySd;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The diffusers-to-LDM names against the full SD 1.5 key lists made with diffusers' own conversion. */
class LdmKeyMapTest {
    @Test
    void mapsEverySd15DiffusersNameToItsSingleFileNameAndShape() {
        JsonNode diffusers = TinySd.sd15Keys("sd15_keys_diffusers.json").get("components");
        Map<String, List<Long>> ldm = new HashMap<>();
        for (JsonNode e : TinySd.sd15Keys("sd15_keys_ldm.json").get("tensors")) {
            ldm.put(e.get("name").asText(), shape(e));
        }
        ModelConfigs sd15 = ModelConfigs.sd15();
        Map<String, List<Long>> mapped = new HashMap<>();
        for (JsonNode e : diffusers.get("unet")) {
            mapped.put(LdmKeyMap.unet(e.get("name").asText(), sd15.unet()), shape(e));
        }
        for (JsonNode e : diffusers.get("vae")) {
            List<Long> s = shape(e);
            String name = e.get("name").asText();
            if (name.contains("mid_block.attentions.0.") && s.size() == 2) {
                s = List.of(s.get(0), s.get(1), 1L, 1L); // LDM keeps these projections as 1x1 convolutions
            }
            mapped.put(LdmKeyMap.vae(name, sd15.vae()), s);
        }
        for (JsonNode e : diffusers.get("text_encoder")) {
            mapped.put(LdmKeyMap.clip(e.get("name").asText()).getFirst().name(), shape(e));
        }
        assertThat(mapped).hasSize(1130);
        assertThat(mapped).containsExactlyInAnyOrderEntriesOf(ldm);
    }

    @Test
    void openClipStacksQueryKeyValueInOneProjection() {
        StoredKey k = LdmKeyMap.openClip("encoder.layers.7.self_attn.k_proj.weight", 1024);
        assertThat(k).isEqualTo(new StoredKey("cond_stage_model.model.transformer.resblocks.7.attn.in_proj_weight", 1024, 2048));
        assertThat(LdmKeyMap.openClip("encoder.layers.0.self_attn.v_proj.bias", 1024))
                .isEqualTo(new StoredKey("cond_stage_model.model.transformer.resblocks.0.attn.in_proj_bias", 2048, 3072));
        assertThat(LdmKeyMap.openClip("encoder.layers.3.mlp.fc2.weight", 1024).name())
                .isEqualTo("cond_stage_model.model.transformer.resblocks.3.mlp.c_proj.weight");
        assertThat(LdmKeyMap.openClip("embeddings.position_embedding.weight", 1024).name())
                .isEqualTo("cond_stage_model.model.positional_embedding");
        assertThat(LdmKeyMap.openClip("final_layer_norm.bias", 1024).name())
                .isEqualTo("cond_stage_model.model.ln_final.bias");
        assertThat(LdmKeyMap.openClipLayer("cond_stage_model.model.transformer.resblocks.23.ln_1.weight")).isEqualTo(23);
        assertThat(LdmKeyMap.openClipLayer("cond_stage_model.model.ln_final.weight")).isEqualTo(-1);
    }

    @Test
    void unknownNamesAreAProgrammingError() {
        assertThatThrownBy(() -> LdmKeyMap.unet("down_blocks.0.norm.weight", ModelConfigs.sd15().unet()))
                .hasMessageContaining("no LDM name for weight 'down_blocks.0.norm.weight'");
    }

    private static List<Long> shape(JsonNode e) {
        List<Long> s = new ArrayList<>();
        e.get("shape").forEach(d -> s.add(d.asLong()));
        return s;
    }
}
