package io.jdiffusion.core.safetensors;

import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SafetensorsTest {
    @TempDir
    Path dir;

    private final SplittableRandom random = new SplittableRandom();

    @Test
    void roundTripsEveryDtype() throws IOException {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (DType dtype : DType.values()) {
            Tensor t = Tensor.allocate(Shape.of(2, 3, 5), dtype);
            for (int i = 0; i < 30; i++) {
                t.setFloat(i, dtype.isFloatingPoint() ? (float) random.nextGaussian() : random.nextInt(-1000, 1000));
            }
            tensors.put("t_" + dtype.name(), t);
        }
        tensors.put("scalar", Tensor.ofFloats(Shape.of(), 3.5f));
        tensors.put("empty", Tensor.allocate(Shape.of(0, 4), DType.F32));
        Path file = dir.resolve("all.safetensors");
        SafetensorsWriter.write(file, tensors, Map.of("format", "pt"));
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertThat(f.names()).containsExactlyElementsOf(tensors.keySet());
            assertThat(f.metadata()).containsEntry("format", "pt");
            for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
                Tensor read = f.tensor(e.getKey());
                assertThat(read.dtype()).isEqualTo(e.getValue().dtype());
                assertThat(read.shape()).isEqualTo(e.getValue().shape());
                assertThat(read.segment().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE))
                        .isEqualTo(e.getValue().segment().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
                assertThat(read.ownsMemory()).isFalse();
            }
            Tensor view = f.tensor("t_F32");
            f.close();
            assertThatThrownBy(() -> view.getFloat(0)).isInstanceOf(IllegalStateException.class);
        }
        tensors.values().forEach(Tensor::close);
        try (var listing = Files.list(dir)) {
            assertThat(listing.map(p -> p.getFileName().toString())).containsExactly("all.safetensors");
        }
    }

    @Test
    void truncatedFile() throws IOException {
        Path file = validFile();
        byte[] bytes = Files.readAllBytes(file);
        Files.write(file, java.util.Arrays.copyOf(bytes, bytes.length - 3));
        assertThatThrownBy(() -> SafetensorsFile.open(file)).isInstanceOf(SafetensorsException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("'b'").hasMessageContaining("truncated");
        Files.write(file, new byte[]{1, 2, 3});
        assertThatThrownBy(() -> SafetensorsFile.open(file)).isInstanceOf(SafetensorsException.class).hasMessageContaining("too short");
    }

    @Test
    void giantHeaderLength() throws IOException {
        Path file = validFile();
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(Long.MAX_VALUE - 5).array());
        }
        assertThatThrownBy(() -> SafetensorsFile.open(file)).isInstanceOf(SafetensorsException.class).hasMessageContaining("header length");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(50_000_000).array());
        }
        assertThatThrownBy(() -> SafetensorsFile.open(file)).isInstanceOf(SafetensorsException.class).hasMessageContaining("past the end");
    }

    @Test
    void badOffsets() throws IOException {
        expectHeaderError("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,12]}}", 12, "needs 8 bytes");
        expectHeaderError("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "ordered range");
        expectHeaderError("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "run past");
        expectHeaderError("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, "two integers");
        expectHeaderError("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "invalid dimension");
        expectHeaderError("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,8]}}", 8, "overflows");
    }

    @Test
    void overlappingRanges() throws IOException {
        expectHeaderError("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlaps tensor 'a'");
    }

    @Test
    void rangesMustTileTheDataWithoutGapsOrTrailingBytes() throws IOException {
        expectHeaderError("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", 20, "4-byte gap after tensor 'a'");
        expectHeaderError("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "4-byte gap after the header");
        expectHeaderError("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 11, "3 trailing bytes");
        expectHeaderError("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}", 8, "overlaps tensor 'a'");
        expectHeaderError(" {\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "does not start with '{'");
    }

    @Test
    void picklesAreRefusedByContentWhateverTheirName() throws IOException {
        Path zip = dir.resolve("renamed-zip.safetensors");
        Files.write(zip, new byte[]{'P', 'K', 3, 4, 20, 0, 0, 0, 8, 0, 0, 0, 0, 0});
        assertThatThrownBy(() -> SafetensorsFile.open(zip)).isInstanceOf(SafetensorsException.class)
                .hasMessageContaining(zip.toString()).hasMessageContaining("pickle checkpoint (zip archive)");
        Path pickle = dir.resolve("renamed-pickle.safetensors");
        Files.write(pickle, new byte[]{(byte) 0x80, 2, '}', 'q', 0, '.', 0, 0, 0, 0});
        assertThatThrownBy(() -> SafetensorsFile.open(pickle)).isInstanceOf(SafetensorsException.class)
                .hasMessageContaining("pickle checkpoint (pickle stream)").hasMessageContaining("can run arbitrary code");
    }

    @Test
    void emptyFilesFoldersAndSymlinkLoopsAreNamedAsWhatTheyAre() throws IOException {
        Path empty = Files.createFile(dir.resolve("empty.safetensors"));
        assertThatThrownBy(() -> SafetensorsFile.open(empty)).hasMessage(empty + ": file is 0 bytes, too short for the 8-byte header length");
        Path folder = Files.createDirectory(dir.resolve("folder.safetensors"));
        assertThatThrownBy(() -> SafetensorsFile.open(folder)).isInstanceOf(SafetensorsException.class)
                .hasMessage(folder + ": is a directory, not a file");
        Path loop = dir.resolve("loop.safetensors");
        Files.createSymbolicLink(loop, loop.getFileName());
        assertThatThrownBy(() -> SafetensorsFile.open(loop)).isInstanceOf(SafetensorsException.class)
                .hasMessage(loop + ": is a symbolic link loop");
        Path dangling = dir.resolve("dangling.safetensors");
        Files.createSymbolicLink(dangling, dir.resolve("nowhere"));
        assertThatThrownBy(() -> SafetensorsFile.open(dangling)).hasMessage(dangling + ": is a symbolic link to a missing file");
    }

    @Test
    void unknownDtypeDuplicateNamesAndMalformedJson() throws IOException {
        expectHeaderError("{\"a\":{\"dtype\":\"F7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "unknown or unsupported dtype 'F7'");
        expectHeaderError("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "not well-formed JSON");
        expectHeaderError("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],", 8, "not well-formed JSON");
        expectHeaderError("[1,2]", 8, "not a JSON object");
        expectHeaderError("{\"__metadata__\":{\"k\":3}}", 0, "__metadata__");
    }

    @Test
    void nonUtf8Header() throws IOException {
        byte[] header = "{\"a\u00ff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"
                .getBytes(StandardCharsets.ISO_8859_1); // a lone 0xFF byte is never valid UTF-8
        Path file = rawFile(header, 4);
        assertThatThrownBy(() -> SafetensorsFile.open(file)).isInstanceOf(SafetensorsException.class).hasMessageContaining("UTF-8");
    }

    @Test
    void writerLeavesNoPartialFileOnFailure() throws IOException {
        Path target = dir.resolve("out.safetensors");
        Tensor t = Tensor.ofFloats(Shape.of(2), 1, 2);
        t.close();
        assertThatThrownBy(() -> SafetensorsWriter.write(target, Map.of("x", t))).isInstanceOf(IllegalStateException.class);
        try (var listing = Files.list(dir)) {
            assertThat(listing.toList()).isEmpty();
        }
    }

    @Test
    void mapsFilesLargerThanTwoGigabytes() throws IOException {
        // A sparse file: the tensor sits past the 2 GiB mark, which ByteBuffer-based readers cannot reach.
        long offset = (1L << 31) + 64;
        String header = "{\"pad\":{\"dtype\":\"F32\",\"shape\":[" + offset / 4 + "],\"data_offsets\":[0," + offset + "]},"
                + "\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[" + offset + "," + (offset + 8) + "]}}";
        Path file = dir.resolve("big.safetensors");
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).array());
            raf.write(h);
            raf.seek(8 + h.length + offset);
            raf.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(1.5f).putFloat(-2f).array());
        }
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertThat(f.tensor("x").toFloatArray()).containsExactly(1.5f, -2f);
        }
    }

    private Path validFile() throws IOException {
        Path file = dir.resolve("valid.safetensors");
        try (Tensor a = Tensor.ofFloats(Shape.of(2), 1, 2); Tensor b = Tensor.ofFloats(Shape.of(3), 3, 4, 5)) {
            Map<String, Tensor> ordered = new LinkedHashMap<>();
            ordered.put("a", a);
            ordered.put("b", b); // last in the file, so truncation cuts into it
            SafetensorsWriter.write(file, ordered);
        }
        return file;
    }

    private void expectHeaderError(String json, int dataBytes, String message) throws IOException {
        Path file = rawFile(json.getBytes(StandardCharsets.UTF_8), dataBytes);
        assertThatThrownBy(() -> SafetensorsFile.open(file)).as(json).isInstanceOf(SafetensorsException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining(message);
    }

    private Path rawFile(byte[] header, int dataBytes) throws IOException {
        Path file = Files.createTempFile(dir, "raw", ".safetensors");
        ByteBuffer buf = ByteBuffer.allocate(8 + header.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(header.length).put(header);
        Files.write(file, buf.array());
        return file;
    }
}
