package io.jdiffusion.tornado;

import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Padding;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.backend.testing.TestRandom;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.core.safetensors.SafetensorsFile;
import io.jdiffusion.core.safetensors.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Host-side (no GPU): the tensor-core path hands a memory-mapped checkpoint's pages of each weight back to the file as
 * soon as it has packed that weight, so compiling a network never holds the file's pages beside the packed F16 copy.
 */
class TensorCoreWeightReleaseTest {
    private final TestRandom random = TestRandom.fresh();

    @Test
    @EnabledOnOs(OS.LINUX)
    void packingAWeightReleasesItsCheckpointPages(@TempDir Path dir) throws IOException {
        Path checkpoint = dir.resolve("weights.safetensors");
        Map<String, Tensor> written = new LinkedHashMap<>();
        try (Tensor conv = random.normal(Shape.of(64, 32, 3, 3), 1); Tensor linear = random.normal(Shape.of(512, 640), 1);
             Tensor conv16 = conv.to(DType.F16); Tensor linear16 = linear.to(DType.F16)) {
            written.put("conv", conv16);
            written.put("linear", linear16);
            SafetensorsWriter.write(checkpoint, written);
        }
        try (SafetensorsFile file = SafetensorsFile.open(checkpoint); DeviceArrays arrays = new DeviceArrays()) {
            Tensor convWeight = file.tensor("conv");
            Tensor linearWeight = file.tensor("linear");
            float[] convValues = convWeight.toFloatArray();
            linearWeight.toFloatArray();
            assertThat(residentKib(checkpoint)).as("resident kiB of the checkpoint once read").isGreaterThanOrEqualTo(640);

            GraphBuilder g = new GraphBuilder("layers");
            Value x = g.input("x", Shape.of(2, 32, 16, 16), DType.F32);
            Value y = g.conv2d(x, g.constant("conv", convWeight), null, null, 1, Padding.same(1));
            Value t = g.input("t", Shape.of(2, 77, 640), DType.F32);
            Value z = g.linear(t, g.constant("linear", linearWeight), null, Activation.NONE, null);
            g.output(y);
            g.output(z);
            Graph graph = g.build();
            TensorCorePath path = new TensorCorePath("layers", 132, false);
            for (Op op : graph.ops()) {
                assertThat(path.takeProduct(op)).as("taken: %s", op).isTrue();
            }
            path.allocate(v -> v, arrays);

            // what may stay: the header's page and pages the kernel maps around a fault (up to 64 KiB), none of the
            // tensors' whole pages
            assertThat(residentKib(checkpoint)).as("resident kiB of the checkpoint once packed").isLessThanOrEqualTo(64);
            // the convolution was taken first: its rows start the F16 array, 288 = 32 x 3 x 3 k a row (a multiple of 32)
            HalfFloatArray packed = (HalfFloatArray) path.buffers().getFirst();
            for (int co : new int[]{0, 5, 63}) {
                for (int k : new int[]{0, 7, 287}) {
                    short bits = packed.getSegment().getAtIndex(ValueLayout.JAVA_SHORT, co * 288L + k);
                    assertThat(Float.float16ToFloat(bits)).as("packed weight %d, %d", co, k).isEqualTo(convValues[co * 288 + k]);
                }
            }
        }
    }

    private static long residentKib(Path file) {
        String name = file.toAbsolutePath().toString();
        return ResidentMappings.byPath().stream().filter(m -> m.getKey().equals(name)).mapToLong(Map.Entry::getValue).sum();
    }
}
