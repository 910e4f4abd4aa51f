package io.jdiffusion.cpu;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class HugePagesTest {
    @Test
    void aLargeBlockIsZeroedWritableAndOnHugePageBoundaries() {
        assumeTrue(HugePages.available(), "mmap and madvise are reachable (Linux, native access enabled)");
        long bytes = HugePages.MIN_BYTES + 12345;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment block = HugePages.allocate(arena, bytes);
            assertThat(block.byteSize()).isEqualTo(bytes);
            assertThat(block.address() % HugePages.HUGE_PAGE).isZero();
            for (long i = 0; i < bytes; i += 4093) {
                assertThat(block.get(ValueLayout.JAVA_BYTE, i)).isZero();
            }
            block.fill((byte) 7);
            assertThat(block.get(ValueLayout.JAVA_BYTE, bytes - 1)).isEqualTo((byte) 7);
        } // closing the arena unmaps the block
    }

    @Test
    void smallBlocksComeFromTheArenaAlignedForVectors() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment block = HugePages.allocate(arena, 1000);
            assertThat(block.byteSize()).isEqualTo(1000);
            assertThat(block.address() % 64).isZero();
            MemorySegment empty = HugePages.allocate(arena, 0);
            assertThat(empty.byteSize()).isEqualTo(1);
        }
    }

    @Test
    void aBlockIsUsableAcrossThreadsOfASharedArena() throws InterruptedException {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment block = HugePages.allocate(arena, 2 * HugePages.MIN_BYTES);
            Thread writer = new Thread(() -> block.set(ValueLayout.JAVA_LONG, block.byteSize() - 8, 42L));
            writer.start();
            writer.join();
            assertThat(block.get(ValueLayout.JAVA_LONG, block.byteSize() - 8)).isEqualTo(42L);
        }
    }
}
