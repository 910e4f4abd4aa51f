package io.jdiffusion.models.sd;

import io.jdiffusion.models.unet.UNetCall;
import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import io.jdiffusion.backend.HostRunner;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.core.safetensors.SafetensorsFile;
import io.jdiffusion.models.testsupport.Golden;
import io.jdiffusion.testdata.TinySd;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static io.jdiffusion.models.testsupport.ModelFiles.assertBitIdentical;
import static io.jdiffusion.testdata.TestFiles.copyTree;
import static io.jdiffusion.models.testsupport.ModelFiles.ramp;
import static io.jdiffusion.models.testsupport.ModelFiles.rewrite;
import static io.jdiffusion.models.testsupport.ModelFiles.writeLdmOpenClip;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The SD 2.x variants of the layout, checked against the SD 1.5-shaped goldens through exact equivalences:
 * a linear proj_in/proj_out with the 1x1 kernels' matrices computes what the convolutions compute, list-valued
 * head counts equal to the scalar give the same network, and an OpenCLIP single file (q/k/v stacked in in_proj)
 * holds the same text encoder.
 */
class Sd2LayoutTest {
    @TempDir
    Path tmp;

    @Test
    void linearProjectionsListHeadsAndVPredictionLoadFromConfig() throws IOException {
        Path model = copyTree(TinySd.modelDir(), tmp.resolve("model"));
        Path config = model.resolve("unet/config.json");
        Files.writeString(config, Files.readString(config)
                .replace("\"use_linear_projection\": false", "\"use_linear_projection\": true")
                .replace("\"attention_head_dim\": 8", "\"attention_head_dim\": [8, 8]"));
        Path scheduler = model.resolve("scheduler/scheduler_config.json");
        Files.writeString(scheduler, Files.readString(scheduler).replace("\"beta_end\"", "\"prediction_type\": \"v_prediction\",\n  \"beta_end\""));
        rewrite(model.resolve("unet/diffusion_pytorch_model.safetensors"), m -> m.replaceAll((name, t) ->
                name.endsWith("proj_in.weight") || name.endsWith("proj_out.weight")
                        ? t.reshape(t.shape().dim(0), t.shape().dim(1)) : t));
        try (StableDiffusion sd = StableDiffusion.load(model, null);
             SafetensorsFile golden = TinySd.golden("unet.safetensors");
             Backend cpu = Backends.create("cpu");
             Tensor t = Tensor.ofFloats(Shape.of(2), 981, 981)) {
            assertThat(sd.unet().config().useLinearProjection()).isTrue();
            assertThat(sd.unet().predictionType()).isEqualTo("v_prediction");
            List<Tensor> out = HostRunner.run(cpu, sd.unet().graph(new UNetCall(2, 16, 16, 77)),
                    List.of(golden.tensor("a.sample"), t, golden.tensor("a.encoder_hidden_states")));
            Golden.check("unet_a noise_pred, linear projections", out.getFirst(), golden.tensor("a.noise_pred"));
            out.forEach(Tensor::close);
        }
    }

    @Test
    void openClipSingleFileHoldsTheSameTextEncoder() {
        Path file = tmp.resolve("sd2-style.safetensors");
        try (StableDiffusion folder = StableDiffusion.load(TinySd.modelDir(), null)) {
            Map<String, Tensor> extras = new LinkedHashMap<>();
            String p = "cond_stage_model.model.";
            extras.put(p + "logit_scale", ramp(DType.F32));
            extras.put(p + "text_projection", ramp(DType.F32, 32, 32));
            // a layer past the configured count (SD 2 files hold 24, diffusers' SD 2 configs 23): not used
            extras.put(p + "transformer.resblocks.5.ln_1.weight", ramp(DType.F32, 32));
            extras.put(p + "transformer.resblocks.5.attn.in_proj_weight", ramp(DType.F32, 96, 32));
            writeLdmOpenClip(folder, file, extras);
            try (StableDiffusion single = StableDiffusion.load(file, TinySd.modelDir());
                 SafetensorsFile golden = TinySd.golden("text_encoder.safetensors");
                 Backend cpu = Backends.create("cpu")) {
                assertBitIdentical(single.textEncoder().parameters(), folder.textEncoder().parameters());
                assertBitIdentical(single.unet().parameters(), folder.unet().parameters());
                Tensor out = HostRunner.run(cpu, single.textEncoder().graph(3), List.of(golden.tensor("te.input_ids"))).getFirst();
                Golden.check("text_encoder from OpenCLIP layout", out, golden.tensor("te.last_hidden_state"));
                out.close();
            }
        }
    }
}
