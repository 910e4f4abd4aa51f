package io.jdiffusion.models.sd;

import io.jdiffusion.models.unet.UNetCall;
import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.backend.graph.BufferPlan;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.DType;
import io.jdiffusion.models.clip.ClipTextEncoder;
import io.jdiffusion.models.unet.UNet2DConditionModel;
import io.jdiffusion.models.vae.AutoencoderKL;
import io.jdiffusion.models.weights.Parameter;
import io.jdiffusion.models.weights.ShapeOnlyWeights;
import io.jdiffusion.testdata.TinySd;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The full-size SD 1.5 networks, built with shape-only weights: exactly the tensor names and shapes of the
 * real checkpoint, the real parameter counts, and the size of the graphs a 512x512 run records.
 */
class Sd15ArchitectureTest {
    private static ShapeOnlyWeights weights;
    private static ClipTextEncoder text;
    private static UNet2DConditionModel unet;
    private static AutoencoderKL vae;

    @BeforeAll
    static void build() {
        ModelConfigs c = ModelConfigs.sd15();
        weights = new ShapeOnlyWeights(DType.F32);
        text = ClipTextEncoder.load(c.textEncoder(), weights, c.source());
        unet = UNet2DConditionModel.load(c.unet(), c.predictionType(), weights, c.source());
        vae = AutoencoderKL.load(c.vae(), weights, c.source());
    }

    @AfterAll
    static void free() {
        weights.close();
    }

    @Test
    void namesAndShapesAreExactlySd15s() {
        JsonNode keys = TinySd.sd15Keys("sd15_keys_diffusers.json").get("components");
        assertThat(namesAndShapes(text.parameters())).isEqualTo(expected(keys.get("text_encoder")));
        assertThat(namesAndShapes(unet.parameters())).isEqualTo(expected(keys.get("unet")));
        assertThat(namesAndShapes(vae.parameters())).isEqualTo(expected(keys.get("vae")));
        assertThat(text.parameterCount()).isEqualTo(123_060_480L);
        assertThat(unet.parameterCount()).isEqualTo(859_520_964L);
        assertThat(vae.parameterCount()).isEqualTo(83_653_863L);
    }

    @Test
    void unetGraphAt512UsesEveryWeightOnceAndReportsItsMemory() {
        Graph g = unet.graph(new UNetCall(2, 64, 64, 77));
        long params = g.constants().stream().mapToLong(v -> v.shape().elementCount()).sum();
        assertThat(params).isEqualTo(859_520_964L);
        assertThat(g.constants()).hasSize(686);
        BufferPlan plan = BufferPlan.plan(g, 64);
        Map<String, Integer> kinds = opKinds(g);
        System.out.printf(Locale.ROOT, "SD15 unet 512x512 batch 2: %d ops %s, arena %.1f MiB, weights %.1f MiB F32%n",
                g.ops().size(), kinds, plan.arenaBytes() / 1048576.0, g.constantBytes() / 1048576.0);
        // the fused forms are used: one GroupNorm(+SiLU) per norm, one GEGLU linear per feed-forward
        assertThat(kinds.get("Attention")).isEqualTo(32); // 16 transformer blocks x (self + cross)
        assertThat(g.ops()).filteredOn(op -> op instanceof Op.Linear l
                && l.activation() == io.jdiffusion.backend.graph.Activation.GEGLU).hasSize(16);
        assertThat(g.ops()).noneMatch(op -> op instanceof Op.Softmax);
        // largest activation: a batch-2 attention score matrix never exists, the arena is well under 2 GiB
        assertThat(plan.arenaBytes()).isLessThan(2L << 30);
    }

    @Test
    void textEncoderAndVaeGraphsAt512() {
        Graph te = text.graph(2);
        Graph dec = vae.decoderGraph(1, 64, 64);
        Graph enc = vae.encoderGraph(1, 512, 512);
        for (Graph g : List.of(te, dec, enc)) {
            System.out.printf(Locale.ROOT, "SD15 %s: %d ops, arena %.1f MiB, weights %.1f MiB F32%n", g.name(),
                    g.ops().size(), BufferPlan.plan(g, 64).arenaBytes() / 1048576.0, g.constantBytes() / 1048576.0);
        }
        assertThat(te.outputs().getFirst().shape().dims()).containsExactly(2, 77, 768);
        assertThat(dec.outputs().getFirst().shape().dims()).containsExactly(1, 3, 512, 512);
        assertThat(enc.outputs()).extracting(Value::shape).extracting(s -> s.dims().length).containsExactly(4, 4);
        assertThat(enc.outputs().getFirst().shape().dims()).containsExactly(1, 4, 64, 64);
        // the decoder uses every decoder weight, the encoder every encoder weight (no weight is left out)
        assertThat(dec.constants().size() + enc.constants().size()).isEqualTo(248 + 2); // quant_conv split in halves
    }

    private static Map<String, List<Long>> namesAndShapes(List<Parameter> parameters) {
        Map<String, List<Long>> m = new LinkedHashMap<>();
        for (Parameter p : parameters) {
            List<Long> s = new ArrayList<>();
            for (long d : p.tensor().shape().dims()) {
                s.add(d);
            }
            m.put(p.name(), s);
        }
        return new TreeMap<>(m);
    }

    private static Map<String, List<Long>> expected(JsonNode list) {
        Map<String, List<Long>> m = new TreeMap<>();
        for (JsonNode e : list) {
            assertThat(e.get("dtype").asText()).isEqualTo("float32");
            List<Long> s = new ArrayList<>();
            e.get("shape").forEach(d -> s.add(d.asLong()));
            m.put(e.get("name").asText(), s);
        }
        return m;
    }

    private static Map<String, Integer> opKinds(Graph g) {
        Map<String, Integer> kinds = new TreeMap<>();
        for (Op op : g.ops()) {
            kinds.merge(op.getClass().getSimpleName(), 1, Integer::sum);
        }
        return kinds;
    }
}
