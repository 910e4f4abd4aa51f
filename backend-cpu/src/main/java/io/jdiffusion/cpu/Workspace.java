package io.jdiffusion.cpu;

import io.jdiffusion.backend.MemoryMeter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Scratch arrays of one executable, shared by its kernels (they run one at a time): the operand a GEMM
 * packs at run time, im2col panels, transformed Winograd tiles. Each slot grows to the largest request
 * and then stays, so steady-state runs allocate nothing; the bytes are counted in the backend's meter.
 */
final class Workspace {
    enum Slot {
        PACK_A,
        PACK_B,
        WINOGRAD_IN,
        WINOGRAD_OUT
    }

    private final float[][] slots = new float[Slot.values().length][];
    /** Off-heap slots, for results that kernels store with memory-segment vector stores. */
    private final MemorySegment[] segments = new MemorySegment[Slot.values().length];
    private final Arena[] segmentArenas = new Arena[Slot.values().length];
    private final MemoryMeter meter;
    private long bytes;

    Workspace(MemoryMeter meter) {
        this.meter = meter;
    }

    float[] get(Slot slot, long floats) {
        if (floats > Integer.MAX_VALUE - 64) {
            throw new IllegalArgumentException("scratch of " + floats + " floats for " + slot + " exceeds a Java array");
        }
        float[] a = slots[slot.ordinal()];
        if (a == null || a.length < floats) {
            int size = (int) floats;
            if (a != null) {
                release(a);
            }
            a = new float[size];
            slots[slot.ordinal()] = a;
            bytes += 4L * size;
            meter.add(4L * size);
        }
        return a;
    }

    /** An off-heap scratch segment of at least {@code bytes}, 64-byte aligned. */
    MemorySegment segment(Slot slot, long bytes) {
        int i = slot.ordinal();
        MemorySegment s = segments[i];
        if (s == null || s.byteSize() < bytes) {
            if (s != null) {
                segmentArenas[i].close();
                this.bytes -= s.byteSize();
                meter.release(s.byteSize());
            }
            segmentArenas[i] = Arena.ofShared();
            s = HugePages.allocate(segmentArenas[i], Math.max(bytes, 64));
            segments[i] = s;
            this.bytes += s.byteSize();
            meter.add(s.byteSize());
        }
        return s;
    }

    private void release(float[] a) {
        bytes -= 4L * a.length;
        meter.release(4L * a.length);
    }

    long bytes() {
        return bytes;
    }

    void close() {
        for (int i = 0; i < slots.length; i++) {
            if (slots[i] != null) {
                release(slots[i]);
                slots[i] = null;
            }
            if (segments[i] != null) {
                bytes -= segments[i].byteSize();
                meter.release(segments[i].byteSize());
                segmentArenas[i].close();
                segments[i] = null;
            }
        }
    }
}
