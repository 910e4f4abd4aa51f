package io.jdiffusion.models.sd;

import io.jdiffusion.models.conditioning.ClipConditioner;
import io.jdiffusion.models.unet.UNetCall;
import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import io.jdiffusion.backend.HostRunner;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.core.safetensors.SafetensorsFile;
import io.jdiffusion.models.config.ModelLoadException;
import io.jdiffusion.models.testsupport.Golden;
import io.jdiffusion.models.weights.Parameter;
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
import static io.jdiffusion.testdata.TestFiles.deleteTree;
import static io.jdiffusion.models.testsupport.ModelFiles.ramp;
import static io.jdiffusion.models.testsupport.ModelFiles.rewrite;
import static io.jdiffusion.models.testsupport.ModelFiles.writeLdm;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Loading the tiny model from a diffusers folder and from a single file, and every way a model folder can be bad. */
class StableDiffusionLoadingTest {
    @TempDir
    Path tmp;

    @Test
    void diffusersFolderLoadsMemoryMappedWithItsTokenizerAndScheduler() throws IOException {
        try (StableDiffusion sd = StableDiffusion.load(TinySd.modelDir(), null)) {
            assertThat(sd.description()).contains("diffusers folder").contains(TinySd.modelDir().toString());
            assertThat(((ClipConditioner) sd.conditioner()).tokenizer().vocabSize()).isPositive();
            assertThat(sd.schedulerConfig().get("_class_name").asText()).isEqualTo("PNDMScheduler");
            assertThat(sd.unet().predictionType()).isEqualTo("epsilon");
            // zero-copy: every weight is a view of the mapped file, none was copied to owned memory
            assertThat(sd.unet().parameters()).allSatisfy(p -> assertThat(p.tensor().ownsMemory()).isFalse());
            try (SafetensorsFile f = SafetensorsFile.open(TinySd.modelDir().resolve("unet/diffusion_pytorch_model.safetensors"))) {
                long stored = f.entries().values().stream().mapToLong(e -> e.shape().elementCount()).sum();
                assertThat(sd.unet().parameterCount()).isEqualTo(stored);
            }
            assertThat(sd.textEncoder().parameters()).hasSize(84);
            assertThat(sd.vae().parameters()).hasSize(156);
        }
    }

    @Test
    void singleFileCheckpointGivesBitIdenticalWeights() {
        Path file = tmp.resolve("tiny-ldm.safetensors");
        try (StableDiffusion folder = StableDiffusion.load(TinySd.modelDir(), null)) {
            // what real checkpoints carry besides the three networks: ignored on load
            Map<String, Tensor> extras = new LinkedHashMap<>();
            extras.put("betas", ramp(DType.F32, 1000));
            extras.put("alphas_cumprod", ramp(DType.F32, 1000));
            extras.put("model_ema.decay", ramp(DType.F32));
            extras.put("model_ema.diffusion_modelconv_inweight", ramp(DType.F32, 32, 4, 3, 3));
            extras.put("cond_stage_model.transformer.text_model.embeddings.position_ids", ramp(DType.I64, 1, 77));
            writeLdm(folder, file, extras);
            try (StableDiffusion single = StableDiffusion.load(file, TinySd.modelDir())) {
                assertThat(single.description()).contains("single file").contains("configs from");
                assertThat(((ClipConditioner) single.conditioner()).tokenizer().vocabSize()).isPositive();
                assertBitIdentical(single.textEncoder().parameters(), folder.textEncoder().parameters());
                assertBitIdentical(single.unet().parameters(), folder.unet().parameters());
                assertBitIdentical(single.vae().parameters(), folder.vae().parameters());
                // the VAE attention projections were stored as [64, 64, 1, 1] kernels and come back as matrices
                assertThat(single.vae().parameters()).filteredOn(p -> p.name().equals("decoder.mid_block.attentions.0.to_q.weight"))
                        .singleElement().satisfies(p -> assertThat(p.tensor().shape()).isEqualTo(Shape.of(64, 64)));
            }
        }
    }

    @Test
    void singleFileRoundTripWithATokenizerOnlyConfigFolder() throws IOException {
        Path file = tmp.resolve("tiny-ldm.safetensors");
        Path config = copyTree(TinySd.modelDir().resolve("tokenizer"), tmp.resolve("config/tokenizer")).getParent();
        try (StableDiffusion folder = StableDiffusion.load(TinySd.modelDir(), null)) {
            writeLdm(folder, file, Map.of("betas", ramp(DType.F32, 1000)));
            LoadOptions options = LoadOptions.builder().configFolder(config).hubCaches(List.of()).build();
            try (StableDiffusion single = StableDiffusion.loadWith(file, options)) {
                // the architecture came from the shapes: the tiny model's, but for what the weights cannot show
                assertThat(single.unet().config()).isEqualTo(folder.unet().config().withSampleSize(64));
                assertThat(single.vae().config().blockOutChannels()).isEqualTo(folder.vae().config().blockOutChannels());
                assertThat(single.textEncoder().hiddenSize()).isEqualTo(32);
                assertThat(single.description()).contains("single file " + file)
                        .contains("architecture inferred from the tensors, prediction type epsilon (assumed for SD 1.x")
                        .contains("tokenizer from " + config);
                assertThat(single.identity().name()).isEqualTo("tiny-ldm");
                assertBitIdentical(single.textEncoder().parameters(), folder.textEncoder().parameters());
                assertBitIdentical(single.unet().parameters(), folder.unet().parameters());
                assertBitIdentical(single.vae().parameters(), folder.vae().parameters());
            }
            // beside the checkpoint, the config folder is a diffusers folder holding an SD 1.x tokenizer: found
            try (StableDiffusion beside = StableDiffusion.loadWith(file, LoadOptions.builder().hubCaches(List.of()).build())) {
                assertThat(beside.description()).contains("tokenizer from the diffusers folder " + config + " beside the checkpoint");
            }
            // with no tokenizer anywhere: one line naming the files and the places searched
            deleteTree(config);
            assertThatThrownBy(() -> StableDiffusion.loadWith(file, LoadOptions.builder().hubCaches(List.of()).build()))
                    .isInstanceOf(ModelLoadException.class)
                    .hasMessageContaining("single-file SD 1.x checkpoint, which holds no tokenizer, and none was found")
                    .hasMessageContaining("tokenizer/vocab.json and tokenizer/merges.txt")
                    .hasMessageContaining("Looked in " + tmp.resolve("tokenizer"));
        }
    }

    @Test
    void aMismatchErrorNamesAtMostFiveTensorsOfEachKindAndCountsTheRest() throws IOException {
        Path file = tmp.resolve("tiny-ldm.safetensors");
        try (StableDiffusion folder = StableDiffusion.load(TinySd.modelDir(), null)) {
            writeLdm(folder, file, Map.of());
        }
        // a config folder of another architecture (SD 1.5's) for the tiny checkpoint
        Path config = tmp.resolve("sd15-config");
        for (String component : List.of("text_encoder", "unet", "vae")) {
            Files.createDirectories(config.resolve(component));
            Files.writeString(config.resolve(component).resolve("config.json"),
                    ModelConfigs.bundledTree("sd15", component).toString());
        }
        Files.createDirectories(config.resolve("scheduler"));
        Files.writeString(config.resolve("scheduler/scheduler_config.json"), ModelConfigs.bundledTree("sd15", "scheduler").toString());
        copyTree(TinySd.modelDir().resolve("tokenizer"), config.resolve("tokenizer"));
        assertThatThrownBy(() -> StableDiffusion.load(file, config))
                .isInstanceOf(ModelLoadException.class)
                .satisfies(e -> {
                    String message = e.getMessage();
                    assertThat(message).contains("text encoder weights from " + file)
                            .contains("embeddings.token_embedding.weight is [1000, 32], expected [49408, 768]")
                            .containsPattern("missing \\(\\d+\\): ([^,]+, ){5}and \\d+ more")
                            .containsPattern("wrong shape or type \\(\\d+\\): ([^;]+; ){5}and \\d+ more")
                            .contains("The configs in " + config + " do not describe this SD 1.x checkpoint");
                    assertThat(message.lines()).allSatisfy(line -> assertThat(line.length()).isLessThan(600));
                    assertThat(message.length()).as(message).isLessThan(4000);
                });
    }

    @Test
    void fp16VariantLoadsAndStaysF16() {
        Path model = copyTree(TinySd.modelDir(), tmp.resolve("model"));
        Path unetDir = model.resolve("unet");
        rewrite(unetDir.resolve("diffusion_pytorch_model.safetensors"), m -> m.replaceAll((n, t) -> t.to(DType.F16)));
        try {
            Files.move(unetDir.resolve("diffusion_pytorch_model.safetensors"), unetDir.resolve("diffusion_pytorch_model.fp16.safetensors"));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        try (StableDiffusion sd = StableDiffusion.load(model, null);
             StableDiffusion reference = StableDiffusion.load(TinySd.modelDir(), null);
             SafetensorsFile golden = TinySd.golden("unet.safetensors");
             Backend cpu = Backends.create("cpu")) {
            List<Parameter> half = sd.unet().parameters();
            List<Parameter> full = reference.unet().parameters();
            assertThat(half).allSatisfy(p -> {
                assertThat(p.tensor().dtype()).isEqualTo(DType.F16);
                assertThat(p.tensor().ownsMemory()).isFalse();
            });
            for (int i = 0; i < half.size(); i++) {
                float expected = Float.float16ToFloat(Float.floatToFloat16(full.get(i).tensor().getFloat(0)));
                assertThat(half.get(i).tensor().getFloat(0)).isEqualTo(expected);
            }
            // F16 weights reach the backend as they are; only their rounding separates the result from diffusers'
            List<Tensor> out = HostRunner.run(cpu, sd.unet().graph(new UNetCall(2, 8, 8, 77)), List.of(golden.tensor("b.sample"),
                    golden.tensor("b.timestep"), golden.tensor("b.encoder_hidden_states")));
            Golden.check("unet_b noise_pred with fp16 weights", out.getFirst(), golden.tensor("b.noise_pred"), 1e-2);
            out.forEach(Tensor::close);
        }
    }

    @Test
    void pickleFilesAreRefusedWithTheReason() throws IOException {
        Path ckpt = Files.writeString(tmp.resolve("v1-5-pruned.ckpt"), "not read");
        assertThatThrownBy(() -> StableDiffusion.load(ckpt, null))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("pickle").hasMessageContaining("arbitrary code").hasMessageContaining(".safetensors");

        Path model = copyTree(TinySd.modelDir(), tmp.resolve("model"));
        Files.delete(model.resolve("unet/diffusion_pytorch_model.safetensors"));
        Files.writeString(model.resolve("unet/diffusion_pytorch_model.bin"), "not read");
        assertThatThrownBy(() -> StableDiffusion.load(model, null))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("diffusion_pytorch_model.bin is a PyTorch pickle file")
                .hasMessageContaining("Use the .safetensors version");
    }

    @Test
    void everyMissingUnexpectedAndMisshapedTensorIsListedInOneError() {
        Path model = copyTree(TinySd.modelDir(), tmp.resolve("model"));
        rewrite(model.resolve("unet/diffusion_pytorch_model.safetensors"), m -> {
            m.remove("conv_in.bias");
            m.remove("mid_block.resnets.0.conv1.weight");
            m.put("conv_out.weight", ramp(DType.F32, 4, 32, 1, 1));
            m.put("down_blocks.0.extra.weight", ramp(DType.F32, 3));
        });
        rewrite(model.resolve("vae/diffusion_pytorch_model.safetensors"), m -> {
            m.remove("decoder.conv_in.bias");
            m.put("post_quant_conv.bias", ramp(DType.I64, 4));
        });
        assertThatThrownBy(() -> StableDiffusion.load(model, null))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("unet weights from " + model.resolve("unet/diffusion_pytorch_model.safetensors"))
                .hasMessageContaining("missing (2): conv_in.bias, mid_block.resnets.0.conv1.weight")
                .hasMessageContaining("conv_out.weight is [4, 32, 1, 1], expected [4, 32, 3, 3]")
                .hasMessageContaining("unexpected (1): down_blocks.0.extra.weight")
                .hasMessageContaining("vae weights from")
                .hasMessageContaining("missing (1): decoder.conv_in.bias")
                .hasMessageContaining("post_quant_conv.bias is i64, expected a float type");
    }

    @Test
    void corruptConfigJsonNamesTheFileAndPosition() throws IOException {
        Path model = copyTree(TinySd.modelDir(), tmp.resolve("model"));
        Files.writeString(model.resolve("unet/config.json"), "{\n  \"in_channels\": 4,,\n}");
        assertThatThrownBy(() -> StableDiffusion.load(model, null))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining(model.resolve("unet/config.json") + ": not valid JSON")
                .hasMessageContaining("line 2");
    }

    @Test
    void unsupportedOrMistypedConfigValuesAreNamed() throws IOException {
        Path model = copyTree(TinySd.modelDir(), tmp.resolve("model"));
        Path unet = model.resolve("unet/config.json");
        Files.writeString(unet, Files.readString(unet).replace("\"addition_embed_type\": null", "\"addition_embed_type\": \"image\""));
        Path vae = model.resolve("vae/config.json");
        Files.writeString(vae, Files.readString(vae).replace("\"layers_per_block\": 2", "\"layers_per_block\": \"two\""));
        assertThatThrownBy(() -> StableDiffusion.load(model, null))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("'addition_embed_type' = \"image\" is not supported")
                .hasMessageContaining(vae + ": 'layers_per_block' must be an integer, got \"two\"");
    }

    @Test
    void missingComponentFolderSaysWhatTheLayoutNeeds() {
        Path model = copyTree(TinySd.modelDir(), tmp.resolve("model"));
        deleteTree(model.resolve("vae"));
        assertThatThrownBy(() -> StableDiffusion.load(model, null))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("missing component folder 'vae/'")
                .hasMessageContaining("text_encoder/, tokenizer/, unet/, vae/ and scheduler/");
    }

    @Test
    void missingWeightsAndTokenizerFilesAreNamed() throws IOException {
        Path model = copyTree(TinySd.modelDir(), tmp.resolve("model"));
        Files.delete(model.resolve("tokenizer/merges.txt"));
        assertThatThrownBy(() -> StableDiffusion.load(model, null))
                .isInstanceOf(ModelLoadException.class).hasMessageContaining("missing tokenizer/merges.txt");
        Files.copy(TinySd.modelDir().resolve("tokenizer/merges.txt"), model.resolve("tokenizer/merges.txt"));
        Files.delete(model.resolve("text_encoder/model.safetensors"));
        assertThatThrownBy(() -> StableDiffusion.load(model, null))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("no weights: expected model.safetensors (or model.fp16.safetensors");
    }

    @Test
    void pathsThatAreNoModelAreExplained() throws IOException {
        assertThatThrownBy(() -> StableDiffusion.load(tmp.resolve("nothing-here"), null))
                .hasMessageContaining("no such file or folder");
        assertThatThrownBy(() -> StableDiffusion.load(tmp, null))
                .hasMessageContaining("is not a diffusers Stable Diffusion folder");
        Path unetOnly = TinySd.modelDir().resolve("unet/diffusion_pytorch_model.safetensors");
        assertThatThrownBy(() -> StableDiffusion.load(unetOnly, null))
                .hasMessageContaining("is not a Stable Diffusion single-file checkpoint");
        Path truncated = tmp.resolve("broken.safetensors");
        Files.write(truncated, new byte[]{1, 2, 3});
        assertThatThrownBy(() -> StableDiffusion.load(truncated, null))
                .isInstanceOf(ModelLoadException.class).hasMessageContaining("too short");
    }
}
