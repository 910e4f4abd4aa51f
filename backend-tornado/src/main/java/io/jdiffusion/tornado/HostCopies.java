package io.jdiffusion.tornado;

import io.jdiffusion.core.DType;
import io.jdiffusion.core.HalfFloats;
import io.jdiffusion.core.Tensor;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.stream.LongStream;

/** Copies between host tensors and TornadoVM arrays, converting element types where they differ. */
final class HostCopies {
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED;

    private HostCopies() {
    }

    /**
     * Elements a task of a parallel host copy takes. The weight copies of a compile write pages the process has not
     * touched yet (new TornadoVM arrays), so page faults more than the copying set their time: on one thread they
     * took 1.8-1.9 s of an SD 1.5 first image's preparation on an H100 host (JFR, the three networks' weights in
     * F16). Tasks of 1 Mi elements (2-4 MiB) spread that over the common pool at a fork cost too small to see.
     */
    private static final long PARALLEL_CHUNK = 1 << 20;

    /** A part of a copy: {@code count} elements (or rows) from {@code first}. */
    @FunctionalInterface
    private interface Part {
        void copy(long first, long count);
    }

    /** Runs {@code part} over [0, count) in pieces of {@code chunk}, in parallel where there are several. */
    private static void inParallel(long count, long chunk, Part part) {
        long pieces = (count + chunk - 1) / chunk;
        if (pieces <= 1) {
            part.copy(0, count);
            return;
        }
        LongStream.range(0, pieces).parallel().forEach(i -> part.copy(i * chunk, Math.min(chunk, count - i * chunk)));
    }

    /** Writes {@code src} (F32, F16 or BF16) as floats at element {@code offset} of {@code dst}. */
    static void toFloats(Tensor src, FloatArray dst, int offset) {
        MemorySegment d = dst.getSegment();
        long base = (long) offset * Float.BYTES;
        boolean f32 = src.dtype() == DType.F32;
        inParallel(floatingElements(src), PARALLEL_CHUNK, (first, count) -> {
            if (f32) {
                MemorySegment.copy(src.segment(), first * Float.BYTES, d, base + first * Float.BYTES, count * Float.BYTES);
                return;
            }
            for (long i = first; i < first + count; i++) {
                d.set(FLOAT, base + i * Float.BYTES, src.getFloat(i));
            }
        });
    }

    /**
     * Writes {@code src} (F32, F16 or BF16) as F16 at element {@code offset} of {@code dst}: one pass, without a heap
     * copy (an F16 tensor is copied as it is).
     */
    static void toHalves(Tensor src, MemorySegment dst, long offset) {
        inParallel(floatingElements(src), PARALLEL_CHUNK, (first, count) -> toHalves(src, first, count, dst, offset + first));
    }

    /** Writes {@code count} elements of {@code src} from element {@code first} as F16 at element {@code offset} of {@code dst}. */
    static void toHalves(Tensor src, long first, long count, MemorySegment dst, long offset) {
        long base = offset * Short.BYTES;
        if (src.dtype() == DType.F16) {
            MemorySegment.copy(src.segment(), first * Short.BYTES, dst, base, count * Short.BYTES);
            return;
        }
        for (long i = 0; i < count; i++) {
            dst.set(SHORT, base + i * Short.BYTES, HalfFloats.floatToF16(src.getFloat(first + i)));
        }
    }

    /**
     * A convolution filter [k, c, r, s] (F32, F16 or BF16) as F16 in a new array of {@code arrays}, laid out KRSC:
     * element (k, c, r, s) at ((k R + r) S + s) C + c, cuDNN's NHWC filter format.
     */
    static HalfFloatArray krscHalves(Tensor filter, DeviceArrays arrays) {
        floatingElements(filter);
        if (filter.shape().rank() != 4) {
            throw new IllegalArgumentException("a convolution filter is [k, c, r, s], got " + filter.shape());
        }
        int k = filter.shape().size(0), c = filter.shape().size(1), r = filter.shape().size(2), s = filter.shape().size(3);
        int taps = r * s;
        HalfFloatArray dst = arrays.halves(Math.toIntExact(filter.elementCount()));
        MemorySegment d = dst.getSegment();
        // One output channel at a time through two short arrays per task, its F16 values copied as they are. The
        // element-wise walk before (a dtype dispatch, a conversion and a strided store per element) made the SD 1.5
        // UNet's compile 6.7 s instead of 2.1 s on an H100's host; for a 1280x2560x3x3 F16 filter on a Zen 5 core it
        // took 260 ms, this 130 ms on one thread, most of it the first touch of the new array's pages.
        int perChannel = c * taps;
        inParallel(k, Math.max(1, PARALLEL_CHUNK / perChannel), (firstChannel, channels) -> {
            short[] crs = new short[perChannel];
            short[] rsc = new short[perChannel];
            MemorySegment crsSegment = MemorySegment.ofArray(crs);
            for (long ko = firstChannel; ko < firstChannel + channels; ko++) {
                toHalves(filter, ko * perChannel, perChannel, crsSegment, 0);
                for (int t = 0; t < taps; t++) {
                    for (int ci = 0, from = t, to = t * c; ci < c; ci++, from += taps) {
                        rsc[to + ci] = crs[from];
                    }
                }
                MemorySegment.copy(rsc, 0, d, SHORT, ko * perChannel * Short.BYTES, perChannel);
            }
        });
        return dst;
    }

    /** The element count of {@code src}, which must be a floating-point tensor. */
    private static long floatingElements(Tensor src) {
        if (!src.dtype().isFloatingPoint()) {
            throw new IllegalArgumentException("expected a floating-point tensor, got " + src.dtype());
        }
        return src.elementCount();
    }

    /** Writes the floats at element {@code offset} of {@code src} into {@code dst} (F32, F16 or BF16). */
    static void fromFloats(FloatArray src, int offset, Tensor dst) {
        MemorySegment s = src.getSegment();
        long base = (long) offset * Float.BYTES;
        if (dst.dtype() == DType.F32) {
            MemorySegment.copy(s, base, dst.segment(), 0, dst.byteSize());
            return;
        }
        long n = dst.elementCount();
        for (long i = 0; i < n; i++) {
            dst.setFloat(i, s.get(FLOAT, base + i * Float.BYTES));
        }
    }

    /** Writes integer ids (I32 or I64) at element {@code offset} of {@code dst}; ids must fit an int. */
    static void toInts(Tensor src, IntArray dst, int offset, String what) {
        MemorySegment s = src.segment();
        MemorySegment d = dst.getSegment();
        long n = src.elementCount();
        long base = (long) offset * Integer.BYTES;
        if (src.dtype() == DType.I32) {
            MemorySegment.copy(s, 0, d, base, n * Integer.BYTES);
            return;
        }
        if (src.dtype() != DType.I64) {
            throw new IllegalArgumentException(what + ": expected integer ids, got " + src.dtype());
        }
        for (long i = 0; i < n; i++) {
            long v = s.getAtIndex(LONG, i);
            if (v != (int) v) {
                throw new IllegalArgumentException(what + ": id " + v + " at " + i + " does not fit 32 bits");
            }
            d.set(INT, base + i * Integer.BYTES, (int) v);
        }
    }
}
