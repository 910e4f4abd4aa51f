package io.jdiffusion.models.lora;

import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.models.testsupport.Golden;
import io.jdiffusion.models.testsupport.ModelFiles;
import io.jdiffusion.models.weights.Parameter;
import io.jdiffusion.testdata.TinySd;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** LoRA files on the tiny model: LoCon on a 3x3 convolution against float64, shape errors, the A1111 hash. */
class LoraFileTest {
    private static final String CONV = "down_blocks.0.resnets.0.conv1";
    private static StableDiffusion model;
    private static LoraTargets targets;

    @BeforeAll
    static void open() {
        model = StableDiffusion.load(TinySd.modelDir(), null);
        targets = LoraTargets.of(model.unet(), model.textEncoders());
    }

    @AfterAll
    static void close() {
        model.close();
    }

    private static Tensor random(SplittableRandom rng, long... dims) {
        Tensor t = Tensor.allocate(Shape.of(dims), DType.F32);
        for (long i = 0; i < t.elementCount(); i++) {
            t.setFloat(i, (float) rng.nextGaussian());
        }
        return t;
    }

    private static Tensor base(String name) {
        return model.unet().parameters().stream().filter(p -> p.name().equals(name)).findFirst().map(Parameter::tensor).orElseThrow();
    }

    @Test
    void loconOnA3x3ConvolutionMatchesFloat64(@TempDir Path dir) {
        Tensor w = base(CONV + ".weight");
        long out = w.shape().dim(0);
        long in = w.shape().dim(1);
        int rank = 3;
        SplittableRandom rng = new SplittableRandom(11);
        String k = "lora_unet_" + CONV.replace('.', '_');
        Path file = dir.resolve("locon.safetensors");
        try (Tensor down = random(rng, rank, in, 3, 3); Tensor up = random(rng, out, rank, 1, 1);
             Tensor alpha = Tensor.ofFloats(Shape.of(), 1.5f)) {
            ModelFiles.write(file, Map.of(k + ".lora_down.weight", down, k + ".lora_up.weight", up, k + ".alpha", alpha));
            float[] expected = new float[(int) w.elementCount()];
            int cols = (int) (in * 9);
            for (int o = 0; o < out; o++) {
                for (int j = 0; j < cols; j++) {
                    double sum = 0;
                    for (int r = 0; r < rank; r++) {
                        sum += (double) up.getFloat((long) o * rank + r) * down.getFloat((long) r * cols + j);
                    }
                    expected[o * cols + j] = (float) (w.getFloat((long) o * cols + j) + 0.7 * 1.5 / rank * sum);
                }
            }
            try (LoraNetworks networks = new LoraNetworks(model.unet(), model.textEncoders(), key -> { });
                 Tensor reference = Tensor.ofFloats(w.shape(), expected)) {
                AdaptedNetworks a = networks.networks(List.of(LoraUse.of(file, 0.7)));
                Tensor merged = a.unet().parameters().stream().filter(p -> p.name().equals(CONV + ".weight"))
                        .findFirst().orElseThrow().tensor();
                Golden.check("LoCon 3x3 merge vs float64", merged, reference, 1e-6);
                assertThat(a.textEncoderKey()).isEmpty();
            }
        }
    }

    /** A file holding one random kohya pair of the given shapes, without alpha. */
    private static Path writePair(Path file, String module, long[] downDims, long[] upDims) {
        SplittableRandom rng = new SplittableRandom(file.getFileName().toString().hashCode());
        try (Tensor down = random(rng, downDims); Tensor up = random(rng, upDims)) {
            ModelFiles.write(file, Map.of(module + ".lora_down.weight", down, module + ".lora_up.weight", up));
        }
        return file;
    }

    @Test
    void aRankMismatchNamesTheTensor(@TempDir Path dir) {
        String k = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q";
        Path file = writePair(dir.resolve("bad.safetensors"), k, new long[]{4, 32}, new long[]{32, 8});
        assertThatThrownBy(() -> LoraFile.open(file, targets)).isInstanceOf(LoraException.class)
                .hasMessage("LoRA bad.safetensors: rank mismatch in " + k + ": " + k + ".lora_down.weight is [4, 32] (rank 4) but "
                        + k + ".lora_up.weight is [32, 8]");
    }

    @Test
    void factorsThatDoNotFitTheWeightAreNamed(@TempDir Path dir) {
        String k = "lora_te_text_model_encoder_layers_0_mlp_fc1";
        Path file = writePair(dir.resolve("wide.safetensors"), k, new long[]{4, 33}, new long[]{37, 4});
        assertThatThrownBy(() -> LoraFile.open(file, targets)).isInstanceOf(LoraException.class)
                .hasMessageContaining(k).hasMessageContaining("does not fit text_encoder weight encoder.layers.0.mlp.fc1.weight [37, 32]");
    }

    @Test
    void notALoraFileIsOneClearError(@TempDir Path dir) throws Exception {
        Path garbage = Files.writeString(dir.resolve("x.safetensors"), "not a safetensors file");
        assertThatThrownBy(() -> LoraFile.open(garbage, targets)).isInstanceOf(LoraException.class)
                .hasMessageStartingWith("cannot read LoRA");
        assertThatThrownBy(() -> LoraFile.open(dir.resolve("missing.safetensors"), targets))
                .isInstanceOf(LoraException.class).hasMessageStartingWith("LoRA file not found");
    }

    @Test
    void shortHashIsTheAddnetHashOfTheTensorData() throws Exception {
        Path lora = TinySd.loraSetDir().resolve("lora/tiny_lora.safetensors");
        byte[] bytes = Files.readAllBytes(lora);
        long header = java.nio.ByteBuffer.wrap(bytes, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        byte[] data = java.util.Arrays.copyOfRange(bytes, (int) (8 + header), bytes.length);
        String expected = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(data));
        try (LoraFile f = LoraFile.open(lora, targets)) {
            assertThat(f.shortHash()).isEqualTo(expected.substring(0, 12));
            assertThat(f.name()).isEqualTo("tiny_lora");
            assertThat(f.modules()).hasSize(102);
        }
    }
}
