package io.jdiffusion.models.weights;

import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Seeded random weights: reproducible by (seed, name), with the tiny model's distributions. */
class RandomWeightsTest {
    @Test
    void valuesDependOnSeedAndNameOnly() {
        try (RandomWeights a = new RandomWeights(7, DType.F32); RandomWeights b = new RandomWeights(7, DType.F32);
             RandomWeights c = new RandomWeights(8, DType.F32)) {
            Shape big = Shape.of(3000, 1000); // three parallel chunks
            Tensor a1 = a.find("x.weight", big);
            a.find("other.weight", Shape.of(10, 10)); // asking in another order changes nothing
            Tensor b0 = b.find("other.weight", Shape.of(10, 10));
            Tensor b1 = b.find("x.weight", big);
            assertThat(a1.segment().mismatch(b1.segment())).isEqualTo(-1L);
            assertThat(c.find("x.weight", big).segment().mismatch(a1.segment())).isNotEqualTo(-1L);
            assertThat(b0.segment().mismatch(b1.segment().asSlice(0, b0.byteSize()))).isNotEqualTo(-1L);
            // chunks are not copies of each other
            long chunkBytes = (1L << 20) * 4;
            assertThat(a1.segment().asSlice(0, 4096).mismatch(a1.segment().asSlice(chunkBytes, 4096))).isNotEqualTo(-1L);
            assertThat(a.bytes()).isEqualTo(big.elementCount() * 4 + 400);
        }
    }

    /** Mapped like a checkpoint's weights, so the CPU backend can hand their pages back once packed. */
    @Test
    void weightsAreMappedFromAScratchFileThatLeavesNothingBehind() {
        Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
        Supplier<Long> scratchFiles = () -> {
            try (var files = Files.list(tmp)) {
                return files.filter(f -> f.getFileName().toString().startsWith("jdiffusion-random-weights-")).count();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        };
        long before = scratchFiles.get();
        try (RandomWeights w = new RandomWeights(5, DType.F16)) {
            Tensor a = w.find("a.weight", Shape.of(3, 5));
            Tensor b = w.find("b.weight", Shape.of(1000, 7));
            assertThat(a.segment().isMapped()).isTrue();
            assertThat(b.segment().isMapped()).isTrue();
            assertThat(b.segment().address() % Tensor.ALIGNMENT).isZero();
            assertThat(w.find("empty.bias", Shape.of(0)).byteSize()).isZero();
            assertThat(scratchFiles.get()).as("the scratch file is unlinked at once").isEqualTo(before);
        }
    }

    /** A made weight's pages sit in the file's page cache, not in the resident set, until a backend reads them. */
    @Test
    void madeWeightsAreNotResidentUntilRead() throws IOException {
        Path status = Path.of("/proc/self/status");
        Assumptions.assumeTrue(Files.isReadable(status), "needs /proc");
        Supplier<Long> rssFile = () -> {
            try (var lines = Files.lines(status)) {
                return lines.filter(l -> l.startsWith("RssFile:")).mapToLong(l -> Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024)
                        .findFirst().orElseThrow();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        };
        Shape shape = Shape.of(4096, 4096);
        try (RandomWeights w = new RandomWeights(9, DType.F32); RandomWeights again = new RandomWeights(9, DType.F32)) {
            long before = rssFile.get();
            Tensor big = w.find("big.weight", shape);
            assertThat(rssFile.get() - before).as("of 64 MiB written").isLessThan(16L << 20);
            assertThat(big.segment().mismatch(again.find("big.weight", shape).segment())).as("the values are kept").isEqualTo(-1L);
        }
    }

    @Test
    void distributionsFollowTheTinyModelsInit() {
        try (RandomWeights w = new RandomWeights(1, DType.F32)) {
            double[] conv = stats(w.find("conv.weight", Shape.of(640, 320, 3, 3)));
            assertThat(conv[0]).isCloseTo(0, within(1e-3));
            assertThat(conv[1]).isCloseTo(1 / Math.sqrt(320 * 9), within(1e-3));
            double[] norm = stats(w.find("norm1.weight", Shape.of(100_000)));
            assertThat(norm[0]).isCloseTo(1, within(1e-3));
            assertThat(norm[1]).isCloseTo(0.05, within(1e-3));
            double[] bias = stats(w.find("conv.bias", Shape.of(100_000)));
            assertThat(bias[0]).isCloseTo(0, within(1e-3));
            assertThat(bias[1]).isCloseTo(0.05, within(1e-3));
            double[] emb = stats(w.find("embeddings.token_embedding.weight", Shape.of(1000, 768)));
            assertThat(emb[1]).isCloseTo(0.3, within(3e-3));
        }
    }

    @Test
    void halfPrecisionStorageRoundsTheSameValues() {
        try (RandomWeights f32 = new RandomWeights(3, DType.F32); RandomWeights f16 = new RandomWeights(3, DType.F16)) {
            Tensor a = f32.find("w", Shape.of(64, 64));
            Tensor b = f16.find("w", Shape.of(64, 64));
            assertThat(b.dtype()).isEqualTo(DType.F16);
            for (int i = 0; i < a.elementCount(); i++) {
                assertThat(b.getFloat(i)).isEqualTo(Float.float16ToFloat(Float.floatToFloat16(a.getFloat(i))));
            }
            assertThat(f16.bytes()).isEqualTo(64 * 64 * 2);
        }
    }

    private static double[] stats(Tensor t) {
        double sum = 0;
        double sq = 0;
        long n = t.elementCount();
        for (long i = 0; i < n; i++) {
            double v = t.getFloat(i);
            sum += v;
            sq += v * v;
        }
        double mean = sum / n;
        return new double[]{mean, Math.sqrt(sq / n - mean * mean)};
    }
}
