package io.jdiffusion.models.sd;

import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.core.DType;
import io.jdiffusion.models.clip.ClipTextEncoder;
import io.jdiffusion.models.unet.UNet2DConditionModel;
import io.jdiffusion.models.unet.UNetCall;
import io.jdiffusion.models.vae.AutoencoderKL;
import io.jdiffusion.models.weights.LdmKeyMap;
import io.jdiffusion.models.weights.Parameter;
import io.jdiffusion.models.weights.ShapeOnlyWeights;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Full-size SDXL base 1.0 from the bundled configs with shape-only weights: the published parameter counts,
 * the 1024x1024 UNet graph (70 transformer blocks), and a distinct single-file name for every UNet weight.
 */
class SdxlArchitectureTest {
    private static ShapeOnlyWeights weights;
    private static ModelConfigs configs;
    private static ClipTextEncoder text;
    private static ClipTextEncoder text2;
    private static UNet2DConditionModel unet;
    private static AutoencoderKL vae;

    @BeforeAll
    static void build() {
        configs = ModelConfigs.sdxl();
        weights = new ShapeOnlyWeights(DType.F16);
        text = ClipTextEncoder.load(configs.textEncoder(), weights, configs.source());
        text2 = ClipTextEncoder.load(configs.textEncoder2(), weights, configs.source());
        unet = UNet2DConditionModel.load(configs.unet(), configs.predictionType(), weights, configs.source());
        vae = AutoencoderKL.load(configs.vae(), weights, configs.source());
    }

    @AfterAll
    static void free() {
        weights.close();
    }

    @Test
    void parameterCountsAreSdxlBases() {
        assertThat(configs.family()).isEqualTo("SDXL");
        assertThat(unet.parameterCount()).isEqualTo(2_567_463_684L);
        assertThat(text.parameterCount()).isEqualTo(123_060_480L);
        assertThat(text2.parameterCount()).isEqualTo(694_659_840L);
        assertThat(vae.parameterCount()).isEqualTo(83_653_863L);
        assertThat(text2.projectionDim()).isEqualTo(1280);
        assertThat(unet.config().pooledTextDim()).isEqualTo(1280);
        assertThat(text.hiddenSize() + text2.hiddenSize()).isEqualTo(unet.crossAttentionDim());
        assertThat(vae.config().forceUpcast()).isTrue();
    }

    @Test
    void unetGraphAt1024() {
        Graph g = unet.graph(new UNetCall(2, 128, 128, 77));
        assertThat(g.constants().stream().mapToLong(v -> v.shape().elementCount()).sum()).isEqualTo(2_567_463_684L);
        assertThat(g.ops()).filteredOn(op -> op instanceof Op.Attention).hasSize(2 * 70);
        assertThat(g.inputs()).extracting(v -> v.name()).containsExactly("sample", "timestep", "encoder_hidden_states",
                UNet2DConditionModel.TEXT_EMBEDS, UNet2DConditionModel.TIME_IDS);
        assertThat(g.outputs().getFirst().shape().dims()).containsExactly(2, 4, 128, 128);
    }

    @Test
    void everyUNetWeightHasItsOwnSingleFileName() {
        Set<String> names = new HashSet<>();
        for (Parameter p : unet.parameters()) {
            assertThat(names.add(LdmKeyMap.unet(p.name(), configs.unet()))).as(p.name()).isTrue();
        }
        assertThat(names).contains("model.diffusion_model.label_emb.0.0.weight", "model.diffusion_model.label_emb.0.2.bias",
                "model.diffusion_model.input_blocks.7.1.transformer_blocks.9.attn2.to_k.weight",
                "model.diffusion_model.output_blocks.2.2.conv.weight");
    }
}
