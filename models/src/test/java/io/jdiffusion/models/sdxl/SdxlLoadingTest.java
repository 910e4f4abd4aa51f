package io.jdiffusion.models.sdxl;

import io.jdiffusion.core.DType;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.config.ModelLoadException;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.testdata.GoldenSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static io.jdiffusion.models.testsupport.ModelFiles.assertBitIdentical;
import static io.jdiffusion.testdata.TestFiles.copyTree;
import static io.jdiffusion.testdata.TestFiles.deleteTree;
import static io.jdiffusion.models.testsupport.ModelFiles.ramp;
import static io.jdiffusion.models.testsupport.ModelFiles.write;
import static io.jdiffusion.models.testsupport.ModelFiles.writeLdmSdxl;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** SDXL from a diffusers folder (with .fp16 variants) and from a single file; refiner and incomplete models refused. */
class SdxlLoadingTest {
    @TempDir
    Path tmp;

    @Test
    void singleFileHoldsTheSameNetworksAsTheFolder() {
        Path file = tmp.resolve("sdxl.safetensors");
        try (StableDiffusion folder = StableDiffusion.load(GoldenSet.TINY_SDXL.modelDir(), null)) {
            Map<String, Tensor> extras = new LinkedHashMap<>();
            extras.put("conditioner.embedders.1.model.logit_scale", ramp(DType.F32));
            extras.put("alphas_cumprod", ramp(DType.F32, 1000));
            writeLdmSdxl(folder, file, extras);
            try (StableDiffusion single = StableDiffusion.load(file, GoldenSet.TINY_SDXL.modelDir())) {
                assertThat(single.description()).startsWith("SDXL (single file");
                assertBitIdentical(single.textEncoder().parameters(), folder.textEncoder().parameters());
                assertBitIdentical(single.textEncoder2().parameters(), folder.textEncoder2().parameters());
                assertBitIdentical(single.unet().parameters(), folder.unet().parameters());
                assertBitIdentical(single.vae().parameters(), folder.vae().parameters());
            }
        }
    }

    @Test
    void folderWithFp16VariantFilesLoads() throws IOException {
        Path model = copyTree(GoldenSet.TINY_SDXL.modelDir(), tmp.resolve("model"));
        for (String component : new String[]{"text_encoder", "text_encoder_2"}) {
            Files.move(model.resolve(component + "/model.safetensors"), model.resolve(component + "/model.fp16.safetensors"));
        }
        Files.move(model.resolve("unet/diffusion_pytorch_model.safetensors"),
                model.resolve("unet/diffusion_pytorch_model.fp16.safetensors"));
        try (StableDiffusion sd = StableDiffusion.load(model, null)) {
            assertThat(sd.textEncoder2().projectionDim()).isEqualTo(40);
            assertThat(sd.description()).startsWith("SDXL (diffusers folder");
        }
    }

    @Test
    void folderWithoutSecondTextEncoderIsOneClearLine() {
        Path model = copyTree(GoldenSet.TINY_SDXL.modelDir(), tmp.resolve("model"));
        deleteTree(model.resolve("text_encoder_2"));
        assertThatThrownBy(() -> StableDiffusion.load(model, null)).isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("is an SDXL model").hasMessageContaining("has no text_encoder_2/ folder")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
    }

    @Test
    void refinerFolderIsRefused() throws IOException {
        Path model = copyTree(GoldenSet.TINY_SDXL.modelDir(), tmp.resolve("model"));
        Path index = model.resolve("model_index.json");
        Files.writeString(index, Files.readString(index).replace("\"StableDiffusionXLPipeline\"",
                "\"StableDiffusionXLImg2ImgPipeline\",\n  \"requires_aesthetics_score\": true"));
        assertThatThrownBy(() -> StableDiffusion.load(model, null)).hasMessageContaining("SDXL refiner is not supported");
    }

    @Test
    void refinerSingleFileIsRefused() {
        Path file = tmp.resolve("refiner.safetensors");
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("conditioner.embedders.0.model.token_embedding.weight", ramp(DType.F32, 4, 2));
        t.put("model.diffusion_model.input_blocks.0.0.weight", ramp(DType.F32, 2, 2));
        write(file, t);
        assertThatThrownBy(() -> StableDiffusion.load(file, null)).hasMessageContaining("SDXL refiner is not supported");
    }

    @Test
    void singleFileWithoutSecondTextEncoderIsOneClearLine() {
        Path file = tmp.resolve("half.safetensors");
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight", ramp(DType.F32, 4, 2));
        t.put("model.diffusion_model.input_blocks.0.0.weight", ramp(DType.F32, 2, 2));
        write(file, t);
        assertThatThrownBy(() -> StableDiffusion.load(file, null))
                .hasMessageContaining("SDXL checkpoint without its second text encoder (no conditioner.embedders.1.model.* tensors)")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
    }
}
