package io.jdiffusion.cpu;

import java.lang.foreign.MemorySegment;

/**
 * One compiled operator. {@code buffers[id]} is the storage of the graph value with that id, exactly
 * its size, starting at its first element.
 */
@FunctionalInterface
interface Kernel {
    void run(MemorySegment[] buffers);
}
