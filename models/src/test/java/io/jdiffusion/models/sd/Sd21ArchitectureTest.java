package io.jdiffusion.models.sd;

import com.fasterxml.jackson.databind.JsonNode;
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
import io.jdiffusion.models.weights.StoredKey;
import io.jdiffusion.testdata.TinySd;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The full-size SD 2.1 768-v networks built from the bundled configs with shape-only weights, checked name by
 * name and shape by shape against the tensors of an SD 2.1 single-file checkpoint (sd21-keys, enumerated from
 * the original LDM and OpenCLIP modules): every network weight maps to a stored tensor of its shape, every
 * stored tensor is used, and what is left over is exactly what SD 2 does not run (OpenCLIP's last layer, its
 * projection to the joint space and its temperature).
 */
class Sd21ArchitectureTest {
    private static ShapeOnlyWeights weights;
    private static ModelConfigs configs;
    private static ClipTextEncoder text;
    private static UNet2DConditionModel unet;
    private static AutoencoderKL vae;

    @BeforeAll
    static void build() {
        configs = ModelConfigs.sd21();
        weights = new ShapeOnlyWeights(DType.F32);
        text = ClipTextEncoder.load(configs.textEncoder(), weights, configs.source());
        unet = UNet2DConditionModel.load(configs.unet(), configs.predictionType(), weights, configs.source());
        vae = AutoencoderKL.load(configs.vae(), weights, configs.source());
    }

    @AfterAll
    static void free() {
        weights.close();
    }

    @Test
    void everyWeightIsATensorOfTheSd21SingleFile() {
        Map<String, List<Long>> stored = new TreeMap<>();
        for (JsonNode e : TinySd.sd21LdmKeys().get("tensors")) {
            List<Long> s = new ArrayList<>();
            e.get("shape").forEach(d -> s.add(d.asLong()));
            stored.put(e.get("name").asText(), s);
        }
        assertThat(stored).hasSize(1228);

        Map<String, List<Long>> mapped = new TreeMap<>();
        for (Parameter p : unet.parameters()) {
            mapped.put(LdmKeyMap.unet(p.name(), configs.unet()), dims(p));
        }
        for (Parameter p : vae.parameters()) {
            List<Long> s = dims(p);
            if (p.name().contains("mid_block.attentions.0.") && s.size() == 2) {
                s = List.of(s.get(0), s.get(1), 1L, 1L); // LDM keeps these projections as 1x1 convolutions
            }
            mapped.put(LdmKeyMap.vae(p.name(), configs.vae()), s);
        }
        int hidden = text.hiddenSize();
        for (Parameter p : text.parameters()) {
            StoredKey key = LdmKeyMap.openClip(p.name(), hidden);
            List<Long> s = new ArrayList<>(dims(p));
            if (key.isSlice()) { // q, k and v are row ranges of one in_proj tensor
                assertThat(key.toRow() - key.fromRow()).isEqualTo(s.getFirst());
                s.set(0, 3 * s.getFirst());
            }
            List<Long> previous = mapped.put(key.name(), s);
            assertThat(previous == null || previous.equals(s)).as(key.name()).isTrue();
        }

        Map<String, List<Long>> unused = new TreeMap<>(stored);
        mapped.keySet().forEach(unused::remove);
        assertThat(stored).containsAllEntriesOf(mapped);
        String p = LdmKeyMap.OPEN_CLIP_PREFIX;
        assertThat(unused.keySet()).allMatch(n -> n.equals(p + "text_projection") || n.equals(p + "logit_scale")
                || LdmKeyMap.openClipLayer(n) == 23);
        assertThat(unused).hasSize(2 + 12);
    }

    @Test
    void parameterCountsAreSd21s() {
        assertThat(unet.parameterCount()).isEqualTo(865_910_724L);
        assertThat(text.parameterCount()).isEqualTo(340_387_840L); // 23 of OpenCLIP ViT-H's 24 layers
        assertThat(vae.parameterCount()).isEqualTo(83_653_863L);
        assertThat(configs.predictionType()).isEqualTo("v_prediction");
        assertThat(configs.unet().upcastAttention()).isTrue();
    }

    @Test
    void unetGraphAt768() {
        Graph g = unet.graph(new UNetCall(2, 96, 96, 77));
        assertThat(g.constants().stream().mapToLong(v -> v.shape().elementCount()).sum()).isEqualTo(865_910_724L);
        assertThat(g.ops()).filteredOn(op -> op instanceof Op.Attention).hasSize(32);
        assertThat(g.outputs().getFirst().shape().dims()).containsExactly(2, 4, 96, 96);
    }

    private static List<Long> dims(Parameter p) {
        List<Long> s = new ArrayList<>();
        for (long d : p.tensor().shape().dims()) {
            s.add(d);
        }
        return s;
    }
}
