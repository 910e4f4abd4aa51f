package io.jdiffusion.models.config;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.models.sd.ModelConfigs;
import io.jdiffusion.testdata.TinySd;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Reading diffusers/transformers configs: diffusers' meanings and defaults, and clear refusals. */
class ConfigTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void tinyConfigsReadAsDiffusersMeansThem() {
        UNetConfig u = UNetConfig.fromJson(ConfigJson.read(TinySd.modelDir().resolve("unet/config.json")));
        assertThat(u.blockOutChannels()).containsExactly(32, 64);
        assertThat(u.attentionHeads()).containsExactly(8, 8); // attention_head_dim is the number of heads
        assertThat(u.layersPerBlock()).containsExactly(2, 2);
        assertThat(u.timeEmbedDim()).isEqualTo(128);
        assertThat(u.downscaleFactor()).isEqualTo(2);
        VaeConfig v = VaeConfig.fromJson(ConfigJson.read(TinySd.modelDir().resolve("vae/config.json")));
        assertThat(v.scalingFactor()).isEqualTo(0.18215f);
        assertThat(v.downscaleFactor()).isEqualTo(2);
        ClipTextConfig c = ClipTextConfig.fromJson(ConfigJson.read(TinySd.modelDir().resolve("text_encoder/config.json")));
        assertThat(c.activation()).isEqualTo(Activation.QUICK_GELU);
        assertThat(c.headDim()).isEqualTo(8);
    }

    @Test
    void bundledSd21IsTheOpenClipLinearProjectionFamily() {
        ModelConfigs sd21 = ModelConfigs.sd21();
        assertThat(sd21.unet().attentionHeads()).containsExactly(5, 10, 20, 20);
        assertThat(sd21.unet().useLinearProjection()).isTrue();
        assertThat(sd21.unet().crossAttentionDim()).isEqualTo(1024);
        assertThat(sd21.textEncoder().activation()).isEqualTo(Activation.GELU);
        assertThat(sd21.textEncoder().numLayers()).isEqualTo(23);
        assertThat(sd21.predictionType()).isEqualTo("v_prediction");
        assertThat(sd21.family()).isEqualTo("SD 2.x");
        assertThat(ModelConfigs.sd15().family()).isEqualTo("SD 1.x");
        assertThat(ModelConfigs.sd15().predictionType()).isEqualTo("epsilon");
        assertThat(ModelConfigs.sd15().vae().downscaleFactor()).isEqualTo(8);
    }

    @Test
    void refusesWhatItCannotRunNamingTheKey() {
        assertThatThrownBy(() -> unet("{\"block_out_channels\":[32],\"down_block_types\":[\"DownBlock2D\"],"
                + "\"up_block_types\":[\"UpBlock2D\"],\"addition_embed_type\":\"image\"}"))
                .hasMessageContaining("'addition_embed_type' = \"image\" is not supported");
        assertThatThrownBy(() -> unet("{\"block_out_channels\":[32],\"down_block_types\":[\"DownBlock2D\"],"
                + "\"up_block_types\":[\"UpBlock2D\"],\"addition_embed_type\":\"text_time\"}"))
                .hasMessageContaining("required key 'addition_time_embed_dim' is missing");
        assertThatThrownBy(() -> unet("{\"block_out_channels\":[32],\"down_block_types\":[\"SimpleDown\"],\"up_block_types\":[\"UpBlock2D\"]}"))
                .hasMessageContaining("down block type 'SimpleDown' is not supported");
        assertThatThrownBy(() -> unet("{\"block_out_channels\":[32, 64],\"down_block_types\":[\"DownBlock2D\"],\"up_block_types\":[\"UpBlock2D\"]}"))
                .hasMessageContaining("2 block_out_channels but 1 down");
        assertThatThrownBy(() -> unet("{\"block_out_channels\":[32,64],\"down_block_types\":[\"DownBlock2D\",\"DownBlock2D\"],"
                + "\"up_block_types\":[\"UpBlock2D\",\"UpBlock2D\"],\"attention_head_dim\":[8]}"))
                .hasMessageContaining("'attention_head_dim' has 1 entries, expected one per block (2)");
        assertThatThrownBy(() -> unet("{\"down_block_types\":[\"DownBlock2D\"],\"up_block_types\":[\"UpBlock2D\"]}"))
                .hasMessageContaining("required key 'block_out_channels' is missing");
        assertThatThrownBy(() -> clip("{\"hidden_act\":\"relu\"}")).hasMessageContaining("hidden_act 'relu' is not supported");
        assertThatThrownBy(() -> clip("{\"hidden_size\":30,\"num_attention_heads\":4}")).hasMessageContaining("not divisible by 4");
        assertThatThrownBy(() -> new ConfigJson("x.json", JSON.readTree("[1]"))).hasMessageContaining("x.json: is not a JSON object");
    }

    @Test
    void absentKeysTakeDiffusersDefaults() throws Exception {
        UNetConfig u = unet("{\"block_out_channels\":[32,64],\"down_block_types\":[\"CrossAttnDownBlock2D\",\"DownBlock2D\"],"
                + "\"up_block_types\":[\"UpBlock2D\",\"CrossAttnUpBlock2D\"]}");
        assertThat(u.attentionHeads()).isEqualTo(List.of(8, 8));
        assertThat(u.normEps()).isEqualTo(1e-5f);
        assertThat(u.crossAttentionDim()).isEqualTo(1280);
        assertThat(u.flipSinToCos()).isTrue();
        assertThat(u.useLinearProjection()).isFalse();
    }

    private static UNetConfig unet(String json) throws Exception {
        return UNetConfig.fromJson(new ConfigJson("unet/config.json", (ObjectNode) JSON.readTree(json)));
    }

    private static ClipTextConfig clip(String json) throws Exception {
        return ClipTextConfig.fromJson(new ConfigJson("text_encoder/config.json", (ObjectNode) JSON.readTree(json)));
    }
}
