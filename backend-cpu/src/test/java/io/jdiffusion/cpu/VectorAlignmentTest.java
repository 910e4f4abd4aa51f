package io.jdiffusion.cpu;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The address reading behind the attention tiles' aligned offsets. The speed it buys is measured by
 * {@code bench ops}, not here; this checks that the addresses are real ones (arrays 8-byte aligned as
 * HotSpot places them, not all on one vector boundary) and that the offset lands on a whole vector.
 */
class VectorAlignmentTest {
    @Test
    void readsAddressesOfHeapArraysOnThisPlatform() {
        assertThat(VectorAlignment.available()).as("memmove through the FFM linker (tests run with native access)").isTrue();
    }

    @Test
    void firstAlignedElementIsOnAWholeVector() {
        int bytes = CpuVectors.F.vectorByteSize();
        java.util.Set<Long> placements = new java.util.HashSet<>();
        for (int n : new int[] {1, 7, 100, 1000, 4099}) {
            float[][] arrays = new float[16][];
            for (int i = 0; i < arrays.length; i++) {
                arrays[i] = new float[n + i];
                float[] a = arrays[i];
                long address = VectorAlignment.address(a);
                int first = VectorAlignment.firstAligned(address);
                assertThat(address % 8).as("HotSpot aligns array elements to 8 bytes").isZero();
                assertThat(first).isBetween(0, CpuVectors.L - 1);
                assertThat((address + 4L * first) % bytes).as("element %d of float[%d] at %x", first, a.length, address).isZero();
                placements.add(address % bytes);
            }
        }
        assertThat(placements).as("80 arrays of different sizes, not all on one boundary: addresses, not a constant").hasSizeGreaterThan(1);
    }
}
