package io.jdiffusion.models.sd;

import io.jdiffusion.core.DType;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.config.ModelLoadException;
import io.jdiffusion.models.weights.SafetensorsWeights;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static io.jdiffusion.models.testsupport.ModelFiles.ramp;
import static io.jdiffusion.models.testsupport.ModelFiles.write;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Telling single-file checkpoints apart and inferring their architecture from tensor names and shapes. */
class SingleFileCheckpointTest {
    @TempDir
    Path tmp;

    private SafetensorsWeights file(String... names) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (String n : names) {
            m.put(n, n.endsWith("input_blocks.0.0.weight") ? ramp(DType.F16, 320, 9, 1, 1) : ramp(DType.F16, 2));
        }
        Path p = tmp.resolve("ckpt-" + names.length + ".safetensors");
        write(p, m);
        return SafetensorsWeights.open(p);
    }

    @Test
    void sd1InpaintingCheckpointIsSd15WithNineInputChannels() {
        try (SafetensorsWeights w = file("model.diffusion_model.input_blocks.0.0.weight",
                "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight")) {
            assertThat(SingleFileCheckpoint.detect(w, tmp)).isEqualTo(SingleFileCheckpoint.TextTower.CLIP);
            ModelConfigs c = SingleFileCheckpoint.inferConfigs(w, SingleFileCheckpoint.TextTower.CLIP, tmp);
            assertThat(c.unet().inChannels()).isEqualTo(9);
            assertThat(c.unet().crossAttentionDim()).isEqualTo(768);
            assertThat(c.textEncoder().usedLayers()).isEqualTo(12);
            assertThat(c.predictionType()).isEqualTo("epsilon");
        }
    }

    @Test
    void sd2CheckpointUsesThePenultimateOfItsOpenClipLayers() {
        String[] names = new String[26];
        names[0] = "model.diffusion_model.out.2.bias";
        names[1] = "cond_stage_model.model.token_embedding.weight";
        for (int i = 0; i < 24; i++) {
            names[2 + i] = "cond_stage_model.model.transformer.resblocks." + i + ".ln_1.weight";
        }
        try (SafetensorsWeights w = file(names)) {
            assertThat(SingleFileCheckpoint.detect(w, tmp)).isEqualTo(SingleFileCheckpoint.TextTower.OPEN_CLIP);
            ModelConfigs c = SingleFileCheckpoint.inferConfigs(w, SingleFileCheckpoint.TextTower.OPEN_CLIP, tmp);
            assertThat(c.textEncoder().numLayers()).isEqualTo(24);
            assertThat(c.textEncoder().skipLastLayers()).isEqualTo(1);
            assertThat(c.unet().useLinearProjection()).isTrue();
            assertThat(c.unet().inChannels()).isEqualTo(4);
            assertThat(c.predictionType()).isEqualTo("v_prediction");
        }
        assertThat(SingleFileCheckpoint.noTokenizer(tmp, SingleFileCheckpoint.TextTower.OPEN_CLIP))
                .contains("holds no tokenizer").contains("--config DIR").contains("tokenizer/vocab.json")
                .contains("tokenizer/merges.txt").contains("stable-diffusion-2-1");
    }

    @Test
    void otherCheckpointsAreRefusedWithTheReason() {
        try (SafetensorsWeights w = file("model.diffusion_model.out.2.bias", "conditioner.embedders.0.transformer.x")) {
            assertThatThrownBy(() -> SingleFileCheckpoint.detect(w, tmp)).isInstanceOf(ModelLoadException.class)
                    .hasMessageContaining("SDXL");
        }
        try (SafetensorsWeights w = file("model.diffusion_model.out.2.bias")) {
            assertThatThrownBy(() -> SingleFileCheckpoint.detect(w, tmp)).hasMessageContaining("no text encoder");
        }
    }
}
