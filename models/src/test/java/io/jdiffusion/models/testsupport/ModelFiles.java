package io.jdiffusion.models.testsupport;

import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.core.safetensors.SafetensorsFile;
import io.jdiffusion.core.safetensors.SafetensorsWriter;
import io.jdiffusion.models.sd.CheckpointFamily;
import io.jdiffusion.models.sd.LdmCheckpointWriter;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.models.weights.LdmKeyMap;
import io.jdiffusion.models.weights.Parameter;
import io.jdiffusion.models.weights.StoredKey;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;

/** Writing model folders and single-file checkpoints for loading tests. */
public final class ModelFiles {
    private ModelFiles() {
    }

    /** Rewrites a safetensors file: {@code edit} gets a mutable name-to-tensor map of the file's content. */
    public static void rewrite(Path file, java.util.function.Consumer<Map<String, Tensor>> edit) {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Path tmp = file.resolveSibling(file.getFileName() + ".orig");
        try {
            Files.move(file, tmp);
            try (SafetensorsFile f = SafetensorsFile.open(tmp)) {
                for (String n : f.names()) {
                    tensors.put(n, f.tensor(n));
                }
                edit.accept(tensors);
                SafetensorsWriter.write(file, tensors);
            }
            Files.delete(tmp);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Each network's weights under diffusers names, as a diffusers folder would store them. */
    public static Map<String, Tensor> byName(List<Parameter> parameters, UnaryOperator<String> rename) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (Parameter p : parameters) {
            m.put(rename.apply(p.name()), p.tensor());
        }
        return m;
    }

    /** The model as an SD 1.x-layout single-file checkpoint, plus {@code extras}. */
    public static void writeLdm(StableDiffusion sd, Path file, Map<String, Tensor> extras) {
        writeLdm(sd, CheckpointFamily.SD1, file, extras);
    }

    /** As {@link #writeLdm} for an SD 2.x-style model: OpenCLIP text tower, q/k/v stacked into in_proj. */
    public static void writeLdmOpenClip(StableDiffusion sd, Path file, Map<String, Tensor> extras) {
        writeLdm(sd, CheckpointFamily.SD2, file, extras);
    }

    /** An SDXL model as a generative-models single file (conditioner.embedders.0/1), plus {@code extras}. */
    public static void writeLdmSdxl(StableDiffusion sd, Path file, Map<String, Tensor> extras) {
        writeLdm(sd, CheckpointFamily.SDXL, file, extras);
    }

    private static void writeLdm(StableDiffusion sd, CheckpointFamily family, Path file, Map<String, Tensor> extras) {
        try {
            LdmCheckpointWriter.write(sd, family, file, extras);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static void write(Path file, Map<String, Tensor> tensors) {
        try {
            SafetensorsWriter.write(file, tensors);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Asserts both lists hold the same names with bit-identical data, in the same order. */
    public static void assertBitIdentical(List<Parameter> actual, List<Parameter> expected) {
        assertThat(actual).hasSameSizeAs(expected);
        for (int i = 0; i < actual.size(); i++) {
            Parameter a = actual.get(i);
            Parameter e = expected.get(i);
            assertThat(a.name()).isEqualTo(e.name());
            assertThat(a.tensor().shape()).as(a.name()).isEqualTo(e.tensor().shape());
            assertThat(a.tensor().dtype()).as(a.name()).isEqualTo(e.tensor().dtype());
            assertThat(a.tensor().segment().mismatch(e.tensor().segment())).as(a.name() + " bytes differ at").isEqualTo(-1L);
        }
    }

    /** A tensor of {@code shape} holding 0, 1, 2, ... */
    public static Tensor ramp(DType dtype, long... dims) {
        Tensor t = Tensor.allocate(Shape.of(dims), dtype);
        for (long i = 0; i < t.elementCount(); i++) {
            t.setFloat(i, i);
        }
        return t;
    }
}
