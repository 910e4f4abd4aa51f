package io.jdiffusion.cpu;

import io.jdiffusion.core.DType;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.jdiffusion.cpu.CpuVectors.FLOAT;
import static io.jdiffusion.cpu.CpuVectors.L;

/**
 * One constant laid out for the kernels (GEMM panels, Winograd-transformed filters, or a plain copy),
 * off the Java heap and at its storage precision: F32, or 2 bytes per value as F16 or BF16. Kernels never
 * read 2-byte panels directly: {@link #stage} widens a run of them into an F32 scratch array that stays in
 * cache while the GEMM reuses it (a B panel across an A block, an A block across B panels), so the
 * conversion costs one pass per reuse instead of one per multiply-add. The GEMM reads F32 B panels where they lie
 * ({@link #segment}).
 *
 * <p>Instances made by {@link #allocate} are shared through the backend's {@link WeightCache} and freed
 * by it; {@link #ofArray} wraps per-run packings of non-constant weights (heap, F32).
 */
final class PackedWeights {
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(CpuVectors.ORDER);
    /** L shorts (half the float vector's bits) and L ints (a float vector's), for widening BF16 a vector at a time. */
    private static final VectorSpecies<Short> BF16_SHORTS = VectorSpecies.of(short.class, VectorShape.forBitSize(CpuVectors.bits() / 2));
    private static final VectorSpecies<Integer> BF16_INTS = VectorSpecies.of(int.class, CpuVectors.F.vectorShape());

    /** Floats of the bounce array {@link #stage(long, int, MemorySegment, long, float[])} widens through: 8 KiB. */
    static final int BOUNCE_FLOATS = 2048;

    private final MemorySegment data;
    private final DType storage;
    private final long values;
    private final Arena arena;
    /** Rounding that 2-byte storage added to the values written (squared error, squared values). */
    private double squaredError;
    private double squares;

    private PackedWeights(MemorySegment data, DType storage, long values, Arena arena) {
        this.data = data;
        this.storage = storage;
        this.values = values;
        this.arena = arena;
    }

    /** Zeroed off-heap storage for {@code values} values of {@code storage} (F32, F16 or BF16; raw bytes for others). */
    static PackedWeights allocate(long values, DType storage) {
        Arena arena = Arena.ofShared();
        long bytes = values * storage.byteSize();
        MemorySegment data = HugePages.allocate(arena, bytes).asSlice(0, bytes);
        return new PackedWeights(data, storage, values, arena);
    }

    /** F32 panels on the heap (weights packed at run time because they are not constants). */
    static PackedWeights ofArray(float[] values) {
        return new PackedWeights(MemorySegment.ofArray(values), DType.F32, values.length, null);
    }

    /**
     * Writes src[from, from + count) from index {@code at}, rounded to the storage type; for F16 the
     * rounding is added to {@link #roundingError()}.
     */
    void write(long at, float[] src, int from, int count) {
        switch (storage) {
            case F32 -> MemorySegment.copy(src, from, data, FLOAT, 4 * at, count);
            case F16 -> {
                double err = 0, sq = 0;
                for (int i = 0; i < count; i++) {
                    float v = src[from + i];
                    short h = Float.floatToFloat16(v);
                    data.setAtIndex(SHORT, at + i, h);
                    double d = (double) Float.float16ToFloat(h) - v;
                    err += d * d;
                    sq += (double) v * v;
                }
                squaredError += err;
                squares += sq;
            }
            case BF16 -> {
                for (int i = 0; i < count; i++) {
                    data.setAtIndex(SHORT, at + i, bf16(src[from + i]));
                }
            }
            default -> throw new IllegalStateException("packed weights hold floats, this holds " + storage);
        }
    }

    /** Sum of squared rounding errors and of squared values written to F16 storage, for the cache's report. */
    double[] rounding() {
        return new double[] {squaredError, squares};
    }

    /** The value at index {@code i} as F32. */
    float get(long i) {
        return switch (storage) {
            case F32 -> data.getAtIndex(FLOAT, i);
            case F16 -> Float.float16ToFloat(data.getAtIndex(SHORT, i));
            case BF16 -> Float.intBitsToFloat((data.getAtIndex(SHORT, i) & 0xFFFF) << 16);
            default -> throw new IllegalStateException("packed weights hold floats, this holds " + storage);
        };
    }

    /**
     * Values [from, from + count) widened to F32 into dst[to...]. The 2-byte loops are plain scalar loops on
     * purpose: C2 vectorises them (vcvtph2ps on AVX-512), which the Vector API cannot express for F16 yet.
     */
    void stage(long from, int count, float[] dst, int to) {
        switch (storage) {
            case F32 -> MemorySegment.copy(data, FLOAT, 4 * from, dst, to, count);
            case F16 -> widenF16(data, 2 * from, count, dst, to);
            case BF16 -> widenBf16(data, 2 * from, count, dst, to);
            default -> throw new IllegalStateException("packed weights hold floats, this holds " + storage);
        }
    }

    /**
     * Values [from, from + count) widened to F32 into the off-heap {@code dst} from byte {@code dstByte}, through
     * {@code bounce} ({@link #BOUNCE_FLOATS} long at least) a piece at a time: the widening loops write heap arrays
     * only (C2 vectorises none of them into a segment), and a piece this size is still in L1 when it is copied on.
     */
    void stage(long from, int count, MemorySegment dst, long dstByte, float[] bounce) {
        for (int done = 0; done < count; done += BOUNCE_FLOATS) {
            int piece = Math.min(BOUNCE_FLOATS, count - done);
            stage(from + done, piece, bounce, 0);
            MemorySegment.copy(bounce, 0, dst, FLOAT, dstByte + 4L * done, piece);
        }
    }

    private static void widenF16(MemorySegment s, long byteOffset, int count, float[] dst, int to) {
        for (int i = 0; i < count; i++) {
            dst[to + i] = Float.float16ToFloat(s.get(SHORT, byteOffset + 2L * i));
        }
    }

    /**
     * BF16 is the top half of an F32: each short, sign-extended to an int by the lane conversion, shifted up 16 bits
     * is the float's bit pattern. With the Vector API, because C2 left the scalar loop unvectorised (2.2 values/ns
     * against 15.9 for the F16 loop on a Zen 4 class core).
     */
    private static void widenBf16(MemorySegment s, long byteOffset, int count, float[] dst, int to) {
        int i = 0;
        for (int end = count - L + 1; i < end; i += L) {
            ShortVector half = ShortVector.fromMemorySegment(BF16_SHORTS, s, byteOffset + 2L * i, CpuVectors.ORDER);
            IntVector bits = (IntVector) half.convertShape(VectorOperators.S2I, BF16_INTS, 0);
            bits.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, to + i);
        }
        for (; i < count; i++) {
            dst[to + i] = Float.intBitsToFloat((s.get(SHORT, byteOffset + 2L * i) & 0xFFFF) << 16);
        }
    }

    /** BF16 by truncation: exact for values that came from BF16, which is the only way BF16 storage is chosen. */
    private static short bf16(float value) {
        return (short) (Float.floatToRawIntBits(value) >>> 16);
    }

    MemorySegment segment() {
        return data;
    }

    DType storage() {
        return storage;
    }

    long values() {
        return values;
    }

    long byteSize() {
        return data.byteSize();
    }

    /** Frees off-heap storage; only the {@link WeightCache} calls this, once nothing uses the packing. */
    void free() {
        if (arena != null) {
            arena.close();
        }
    }
}
