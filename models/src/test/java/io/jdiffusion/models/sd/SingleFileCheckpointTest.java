package io.jdiffusion.models.sd;

import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.clip.ClipTextEncoder;
import io.jdiffusion.models.config.ModelLoadException;
import io.jdiffusion.models.unet.UNet2DConditionModel;
import io.jdiffusion.models.vae.AutoencoderKL;
import io.jdiffusion.models.weights.LdmKeyMap;
import io.jdiffusion.models.weights.Parameter;
import io.jdiffusion.models.weights.SafetensorsWeights;
import io.jdiffusion.models.weights.ShapeOnlyWeights;
import io.jdiffusion.models.weights.StoredKey;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

import static io.jdiffusion.models.testsupport.ModelFiles.ramp;
import static io.jdiffusion.models.testsupport.ModelFiles.write;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Single-file checkpoints: the family from tensor names and shapes, the architecture read from the shapes of
 * real SD 1.5 and SD 2.1 checkpoints (their LDM names and shapes, made from the full-size networks with
 * shape-only weights), and the prediction type from the user, a config beside the file, or the family.
 */
class SingleFileCheckpointTest {
    @TempDir
    Path tmp;

    /** The LDM names and shapes of a full-size checkpoint of {@code configs}' architecture. */
    private static Map<String, Shape> ldmShapes(ModelConfigs c, CheckpointFamily family) {
        Map<String, Shape> shapes = new HashMap<>();
        try (ShapeOnlyWeights weights = new ShapeOnlyWeights(DType.F16)) {
            ClipTextEncoder text = ClipTextEncoder.load(c.textEncoder(), weights, c.source());
            for (Parameter p : text.parameters()) {
                if (family == CheckpointFamily.SD1) {
                    shapes.put(LdmKeyMap.clip(p.name()).getFirst().name(), p.tensor().shape());
                } else {
                    StoredKey k = LdmKeyMap.openClip(p.name(), c.textEncoder().hiddenSize());
                    Shape s = p.tensor().shape();
                    shapes.put(k.name(), k.isSlice() ? s.withDim(0, 3 * s.dim(0)) : s);
                }
            }
            for (Parameter p : UNet2DConditionModel.load(c.unet(), "epsilon", weights, c.source()).parameters()) {
                shapes.put(LdmKeyMap.unet(p.name(), c.unet()), p.tensor().shape());
            }
            for (Parameter p : AutoencoderKL.load(c.vae(), weights, c.source()).parameters()) {
                Shape s = p.tensor().shape();
                boolean attention = p.name().contains("mid_block.attentions.0.") && s.rank() == 2;
                shapes.put(LdmKeyMap.vae(p.name(), c.vae()), attention ? Shape.of(s.dim(0), s.dim(1), 1, 1) : s);
            }
        }
        return shapes;
    }

    private static PredictionTypeChoice choice(String type) {
        return new PredictionTypeChoice(type, "test");
    }

    @Test
    void sd15ShapesGiveSd15sArchitectureAndNineInputChannelsGiveInpainting() {
        ModelConfigs sd15 = ModelConfigs.sd15();
        Map<String, Shape> shapes = ldmShapes(sd15, CheckpointFamily.SD1);
        ModelConfigs c = LdmArchitecture.infer(shapes, CheckpointFamily.SD1, choice("epsilon"), tmp);
        assertThat(c.unet()).isEqualTo(sd15.unet());
        assertThat(c.textEncoder()).isEqualTo(sd15.textEncoder());
        assertThat(c.vae()).isEqualTo(sd15.vae());
        assertThat(c.predictionType()).isEqualTo("epsilon");
        assertThat(c.source()).contains("SD 1.x architecture inferred from the tensors of " + tmp);

        shapes.put(LdmKeyMap.UNET_PREFIX + "input_blocks.0.0.weight", Shape.of(320, 9, 3, 3));
        assertThat(LdmArchitecture.infer(shapes, CheckpointFamily.SD1, choice("epsilon"), tmp).unet().inChannels()).isEqualTo(9);
    }

    @Test
    void sd21ShapesGiveSd21sArchitectureWithThePenultimateTextLayer() {
        ModelConfigs sd21 = ModelConfigs.sd21();
        // SD 2.x checkpoints store all 24 OpenCLIP layers; diffusers' config lists the 23 SD uses
        ModelConfigs stored = sd21.withTextEncoder(sd21.textEncoder().withNumLayers(24));
        Map<String, Shape> shapes = ldmShapes(stored, CheckpointFamily.SD2);
        ModelConfigs v = LdmArchitecture.infer(shapes, CheckpointFamily.SD2, choice("v_prediction"), tmp);
        assertThat(v.unet()).isEqualTo(sd21.unet());
        assertThat(v.unet().attentionHeads()).containsExactly(5, 10, 20, 20);
        assertThat(v.textEncoder()).isEqualTo(stored.textEncoder().withSkipLastLayers(1));
        assertThat(v.textEncoder().usedLayers()).isEqualTo(23);
        assertThat(v.predictionType()).isEqualTo("v_prediction");
        assertThat(v.unet().sampleSize()).isEqualTo(96);
        // epsilon SD 2.x checkpoints are the 512-base ones
        ModelConfigs base = LdmArchitecture.infer(shapes, CheckpointFamily.SD2, choice("epsilon"), tmp);
        assertThat(base.predictionType()).isEqualTo("epsilon");
        assertThat(base.unet().sampleSize()).isEqualTo(64);
    }

    private SafetensorsWeights file(Map<String, Tensor> tensors) {
        Path p = tmp.resolve("ckpt-" + tensors.size() + ".safetensors");
        write(p, tensors);
        return SafetensorsWeights.open(p);
    }

    @Test
    void theFamilyComesFromTheCrossAttentionWidthAndTheTextTower() {
        String key = CheckpointFamily.CROSS_ATTENTION_KEY;
        Map<String, Tensor> sd2 = new LinkedHashMap<>();
        sd2.put(key, ramp(DType.F16, 320, 1024));
        sd2.put("cond_stage_model.model.token_embedding.weight", ramp(DType.F16, 2, 4));
        try (SafetensorsWeights w = file(sd2)) {
            assertThat(CheckpointFamily.detect(w, tmp)).isEqualTo(CheckpointFamily.SD2);
        }
        Map<String, Tensor> contradiction = new LinkedHashMap<>();
        contradiction.put(key, ramp(DType.F16, 320, 1024));
        contradiction.put("cond_stage_model.transformer.text_model.embeddings.token_embedding.weight", ramp(DType.F16, 2, 4));
        try (SafetensorsWeights w = file(contradiction)) {
            assertThatThrownBy(() -> CheckpointFamily.detect(w, tmp)).isInstanceOf(ModelLoadException.class)
                    .hasMessageContaining("attends to text of width 1024").hasMessageContaining("CLIP ViT-L");
        }
    }

    @Test
    void otherCheckpointsAreRefusedWithTheReason() {
        try (SafetensorsWeights w = file(Map.of("model.diffusion_model.out.2.bias", ramp(DType.F16, 2),
                "conditioner.embedders.0.transformer.x", ramp(DType.F16, 2)))) {
            assertThatThrownBy(() -> CheckpointFamily.detect(w, tmp)).isInstanceOf(ModelLoadException.class)
                    .hasMessageContaining("SDXL");
        }
        try (SafetensorsWeights w = file(Map.of("model.diffusion_model.out.2.bias", ramp(DType.F16, 2)))) {
            assertThatThrownBy(() -> CheckpointFamily.detect(w, tmp)).hasMessageContaining("no text encoder");
        }
        try (SafetensorsWeights w = file(Map.of("first_stage_model.x", ramp(DType.F16, 2)))) {
            assertThatThrownBy(() -> CheckpointFamily.detect(w, tmp)).hasMessageContaining("has no model.diffusion_model.* tensors");
        }
    }

    @Test
    void predictionTypeFromTheUserAConfigBesideTheFileOrTheFamily() throws IOException {
        Path ckpt = Files.writeString(tmp.resolve("v2-1_768-ema-pruned.safetensors"), "");
        PredictionTypeChoice assumed = PredictionTypeChoice.choose(null, ckpt, CheckpointFamily.SD2);
        assertThat(assumed.predictionType()).isEqualTo("v_prediction");
        assertThat(assumed.toString()).contains("assumed for SD 2.x 768-v").contains("--prediction-type epsilon")
                .contains("v2-1_768-ema-pruned.yaml");
        assertThat(PredictionTypeChoice.choose(null, ckpt, CheckpointFamily.SD1).predictionType()).isEqualTo("epsilon");

        // A1111's sidecar: the LDM inference config
        Path yaml = Files.writeString(tmp.resolve("v2-1_768-ema-pruned.yaml"), """
                model:
                  base_learning_rate: 1.0e-4
                  target: ldm.models.diffusion.ddpm.LatentDiffusion
                  params:
                    parameterization: "v"
                    linear_start: 0.00085
                """);
        PredictionTypeChoice fromYaml = PredictionTypeChoice.choose(null, ckpt, CheckpointFamily.SD1);
        assertThat(fromYaml).isEqualTo(new PredictionTypeChoice("v_prediction", "from v2-1_768-ema-pruned.yaml beside it"));
        assertThat(PredictionTypeChoice.choose("eps", ckpt, CheckpointFamily.SD2))
                .isEqualTo(new PredictionTypeChoice("epsilon", "--prediction-type"));

        Files.writeString(yaml, "model:\n  params:\n    linear_start: 0.00085\n");
        assertThat(PredictionTypeChoice.choose(null, ckpt, CheckpointFamily.SD2).predictionType()).isEqualTo("epsilon");
        Files.writeString(yaml, "model: [unclosed");
        assertThatThrownBy(() -> PredictionTypeChoice.choose(null, ckpt, CheckpointFamily.SD2))
                .isInstanceOf(ModelLoadException.class).hasMessageContaining(yaml + ": not valid YAML");
        Files.delete(yaml);

        Path json = Files.writeString(tmp.resolve("v2-1_768-ema-pruned.json"), "{\"prediction_type\": \"v_prediction\"}");
        assertThat(PredictionTypeChoice.choose(null, ckpt, CheckpointFamily.SD1).predictionType()).isEqualTo("v_prediction");
        Files.writeString(json, "{\"prediction_type\": \"flow\"}");
        assertThatThrownBy(() -> PredictionTypeChoice.choose(null, ckpt, CheckpointFamily.SD1))
                .hasMessageContaining("unknown prediction type 'flow'");
        assertThatThrownBy(() -> PredictionTypeChoice.normalize("x0")).isInstanceOf(IllegalArgumentException.class);
    }
}
