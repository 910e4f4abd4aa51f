package io.jdiffusion.tornado;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import uk.ac.manchester.tornado.api.types.HalfFloat;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DeviceArraysTest {
    /** Resident kiB of the mappings of {@code arrays}' scratch file, from the process's memory map. */
    static long residentKib(DeviceArrays arrays) {
        return ResidentMappings.byPath().stream().filter(m -> m.getKey().startsWith(arrays.path())).mapToLong(java.util.Map.Entry::getValue)
                .sum();
    }

    @Test
    @EnabledOnOs(OS.LINUX)
    void releasedArraysLeaveTheResidentSetAndReadBackTheirData() {
        try (DeviceArrays arrays = new DeviceArrays()) {
            FloatArray floats = arrays.floats(300_000);
            HalfFloatArray halves = arrays.halves(70_001);
            IntArray ints = arrays.ints(3);
            for (int i = 0; i < floats.getSize(); i++) {
                floats.set(i, i * 0.5f);
            }
            for (int i = 0; i < halves.getSize(); i++) {
                halves.getSegment().setAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT, i, Float.floatToFloat16(i % 1000));
            }
            ints.set(2, -7);
            assertThat(floats.getSize()).isEqualTo(300_000);
            assertThat(halves.getSize()).isEqualTo(70_001);
            assertThat(arrays.arrays()).isEqualTo(3);
            // each array on pages of its own: header + data rounded up to 4 KiB
            assertThat(arrays.bytes()).isEqualTo(4096L * (
                    ceilPages(FloatArray.ARRAY_HEADER + 1_200_000L) + ceilPages(FloatArray.ARRAY_HEADER + 140_002L) + 1));
            long written = residentKib(arrays);
            assertThat(written).as("resident kiB once written").isGreaterThanOrEqualTo((1_200_000 + 140_002) / 1024);

            arrays.release();
            assertThat(arrays.released()).isTrue();
            assertThat(residentKib(arrays)).as("resident kiB once released").isZero();
            for (int i = 0; i < floats.getSize(); i += 997) {
                assertThat(floats.get(i)).isEqualTo(i * 0.5f);
            }
            assertThat(Float.float16ToFloat(halves.getSegment().getAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT, 70_000))).isEqualTo(0f);
            assertThat(Float.float16ToFloat(halves.getSegment().getAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT, 999))).isEqualTo(999f);
            assertThat(ints.get(2)).isEqualTo(-7);
            assertThatThrownBy(() -> arrays.floats(4)).isInstanceOf(IllegalStateException.class).hasMessageContaining("released");
        }
    }

    /**
     * Device-only arrays are holes in the scratch file: of 64 MiB of them only their headers' pages become resident;
     * they are told apart from the upload-once arrays, and only the poisoned ones are listed for the fill at every
     * run.
     */
    @Test
    @EnabledOnOs(OS.LINUX)
    void deviceOnlyArraysTouchNoPageAndOnlyThePoisonedAreListed() {
        try (DeviceArrays arrays = new DeviceArrays()) {
            FloatArray weights = arrays.floats(1024);
            weights.set(0, 1f);
            HalfFloatArray arena = arrays.deviceOnlyHalves(16 << 20, true);
            FloatArray workspace = arrays.deviceOnlyFloats(8 << 20, false);
            assertThat(arrays.bytes()).as("scratch file bytes").isGreaterThan(64L << 20);
            // TornadoVM writes each array's header (its first page); of the device-only arrays' 64 MiB, nothing else
            assertThat(residentKib(arrays)).as("resident kiB: the weights' two pages and one header page per device-only array")
                    .isLessThanOrEqualTo(16);
            assertThat(arrays.deviceOnly(arena)).isTrue();
            assertThat(arrays.deviceOnly(workspace)).isTrue();
            assertThat(arrays.deviceOnly(weights)).isFalse();
            assertThat(arrays.poisoned()).containsExactly(arena);
        }
    }

    @Test
    void anEmptyArrayIsRefused() {
        for (boolean mapped : new boolean[]{true, false}) {
            try (DeviceArrays arrays = new DeviceArrays(mapped, false)) {
                assertThatThrownBy(() -> arrays.halves(0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("got 0");
            }
        }
    }

    /** Where the backend page-locks host arrays, they are TornadoVM's own: usable, and still readable after release. */
    @Test
    void unmappedArraysAreTornadoVmsOwnAndKeepTheirData() {
        try (DeviceArrays arrays = new DeviceArrays(false, false)) {
            FloatArray floats = arrays.floats(1000);
            floats.set(999, 3.5f);
            IntArray ints = arrays.ints(2);
            ints.set(1, 9);
            assertThat(arrays.mapped()).isFalse();
            assertThat(arrays.path()).isNull();
            assertThat(arrays.bytes()).isZero();
            arrays.release();
            assertThat(floats.get(999)).isEqualTo(3.5f);
            assertThat(ints.get(1)).isEqualTo(9);
            assertThat(arrays.halves(4).getSize()).isEqualTo(4);
        }
    }

    /**
     * Where the backend locks host arrays, a read-only F16 array large enough for TornadoVM's staging ring lives in
     * the mapped file and goes back on release; a smaller one, the other arrays, and every array of a plan without
     * staged transfers stay TornadoVM's own.
     */
    @Test
    @EnabledOnOs(OS.LINUX)
    void readOnlyArraysOfAStagedPlanAreMappedWhereTheBackendLocksHostArrays() {
        int large = (int) (DeviceArrays.stagedBytes() / Short.BYTES);
        try (DeviceArrays arrays = new DeviceArrays(false, true)) {
            HalfFloatArray small = arrays.readOnlyHalves(1000);
            FloatArray floats = arrays.floats(1000);
            assertThat(arrays.path()).as("nothing mapped below the staging ring's smallest upload").isNull();
            HalfFloatArray weights = arrays.readOnlyHalves(large);
            assertThat(arrays.path()).isNotNull();
            assertThat(arrays.arrays()).isEqualTo(1);
            assertThat(arrays.bytes()).as("the large array alone in the file").isEqualTo(4096L * ceilPages(FloatArray.ARRAY_HEADER + 2L * large));
            assertThat(floats.getSize()).isEqualTo(1000);
            // one element every 8 KiB: every other page
            for (int i = 0; i < large; i += 4096) {
                weights.set(i, new HalfFloat(i % 1000));
            }
            assertThat(residentKib(arrays)).as("resident kiB once written").isGreaterThanOrEqualTo(large / 4096 * 4L);
            arrays.release();
            assertThat(residentKib(arrays)).as("resident kiB once released").isZero();
            assertThat(weights.get(4096 * 7).getFloat32()).isEqualTo(4096 * 7 % 1000);
            assertThat(small.getSize()).isEqualTo(1000);
        }
        try (DeviceArrays arrays = new DeviceArrays(false, false)) {
            arrays.readOnlyHalves(large);
            assertThat(arrays.path()).as("no staging ring: TornadoVM's own memory").isNull();
        }
    }

    private static long ceilPages(long bytes) {
        return (bytes + 4095) / 4096;
    }
}
