package io.jdiffusion.core;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A row-major tensor in off-heap memory.
 *
 * <p>A tensor either owns its memory (made by {@link #allocate}; {@link #close()} frees it) or is a
 * view of memory owned elsewhere (a reshape or slice of another tensor, a memory-mapped safetensors
 * entry). Closing a view does nothing; using any tensor whose memory was freed throws
 * {@link IllegalStateException}, because the Foreign Memory API checks the segment's scope on every access.
 */
public final class Tensor implements AutoCloseable {
    /** Alignment of owned allocations: a full cache line, so SIMD loads never split lines at row 0. */
    public static final long ALIGNMENT = 64;

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static final AtomicLong LIVE_BYTES = new AtomicLong();
    private static final AtomicLong LIVE_ALLOCATIONS = new AtomicLong();
    private static final AtomicLong PEAK_LIVE_BYTES = new AtomicLong();

    private final Shape shape;
    private final DType dtype;
    private final MemorySegment data;
    /** Non-null only for a tensor that owns its memory. */
    private final Arena arena;
    private boolean closed;

    private Tensor(Shape shape, DType dtype, MemorySegment data, Arena arena) {
        long need = shape.elementCount() * dtype.byteSize();
        if (data.byteSize() != need) {
            throw new IllegalArgumentException("tensor " + shape + " " + dtype + " needs " + need
                    + " bytes, segment has " + data.byteSize());
        }
        this.shape = shape;
        this.dtype = dtype;
        this.data = data;
        this.arena = arena;
    }

    /** A new tensor owning fresh, zero-filled off-heap memory. */
    public static Tensor allocate(Shape shape, DType dtype) {
        Arena arena = Arena.ofShared();
        long bytes = shape.elementCount() * dtype.byteSize();
        MemorySegment seg = arena.allocate(Math.max(bytes, 1), ALIGNMENT).asSlice(0, bytes);
        long live = LIVE_BYTES.addAndGet(bytes);
        PEAK_LIVE_BYTES.accumulateAndGet(live, Math::max);
        LIVE_ALLOCATIONS.incrementAndGet();
        return new Tensor(shape, dtype, seg, arena);
    }

    /** A view of memory owned by someone else (a mapped file, an arena plan). Closing it frees nothing. */
    public static Tensor view(MemorySegment data, Shape shape, DType dtype) {
        return new Tensor(shape, dtype, data, null);
    }

    /** A new F32 tensor holding {@code values}. */
    public static Tensor ofFloats(Shape shape, float... values) {
        if (values.length != shape.elementCount()) {
            throw new IllegalArgumentException(values.length + " values for shape " + shape);
        }
        Tensor t = allocate(shape, DType.F32);
        MemorySegment.copy(values, 0, t.data, F32, 0, values.length);
        return t;
    }

    /** A new I64 tensor holding {@code values}. */
    public static Tensor ofLongs(Shape shape, long... values) {
        if (values.length != shape.elementCount()) {
            throw new IllegalArgumentException(values.length + " values for shape " + shape);
        }
        Tensor t = allocate(shape, DType.I64);
        MemorySegment.copy(values, 0, t.data, I64, 0, values.length);
        return t;
    }

    public Shape shape() {
        return shape;
    }

    public DType dtype() {
        return dtype;
    }

    public long elementCount() {
        return shape.elementCount();
    }

    public long byteSize() {
        return data.byteSize();
    }

    /** The memory behind this tensor; throws once it has been freed. */
    public MemorySegment segment() {
        checkOpen();
        return data;
    }

    public boolean ownsMemory() {
        return arena != null;
    }

    public boolean isOpen() {
        return !closed && data.scope().isAlive();
    }

    /** A view with another shape of the same element count. */
    public Tensor reshape(Shape newShape) {
        checkOpen();
        if (newShape.elementCount() != shape.elementCount()) {
            throw new IllegalArgumentException("cannot reshape " + shape + " to " + newShape);
        }
        return new Tensor(newShape, dtype, data, null);
    }

    public Tensor reshape(long... dims) {
        return reshape(Shape.of(dims));
    }

    /** A view of rows {@code [from, to)} along dimension 0. */
    public Tensor slice(long from, long to) {
        checkOpen();
        if (shape.rank() == 0 || from < 0 || to > shape.dim(0) || from > to) {
            throw new IndexOutOfBoundsException("slice [" + from + ", " + to + ") of shape " + shape);
        }
        long rowBytes = shape.innerCount() * dtype.byteSize();
        return new Tensor(shape.withDim(0, to - from), dtype, data.asSlice(from * rowBytes, (to - from) * rowBytes), null);
    }

    /** Element {@code i} (flat, row-major) widened to float; integer types are converted. */
    public float getFloat(long i) {
        return switch (dtype) {
            case F32 -> data.getAtIndex(F32, i);
            case F16 -> HalfFloats.f16ToFloat(data.getAtIndex(I16, i));
            case BF16 -> HalfFloats.bf16ToFloat(data.getAtIndex(I16, i));
            case I32 -> data.getAtIndex(I32, i);
            case I64 -> data.getAtIndex(I64, i);
        };
    }

    /** Stores {@code v} at flat index {@code i}, rounding to the tensor's dtype. */
    public void setFloat(long i, float v) {
        switch (dtype) {
            case F32 -> data.setAtIndex(F32, i, v);
            case F16 -> data.setAtIndex(I16, i, HalfFloats.floatToF16(v));
            case BF16 -> data.setAtIndex(I16, i, HalfFloats.floatToBf16(v));
            case I32 -> data.setAtIndex(I32, i, (int) v);
            case I64 -> data.setAtIndex(I64, i, (long) v);
        }
    }

    public long getLong(long i) {
        return switch (dtype) {
            case I64 -> data.getAtIndex(I64, i);
            case I32 -> data.getAtIndex(I32, i);
            default -> (long) getFloat(i);
        };
    }

    /** All elements widened to float, in row-major order. */
    public float[] toFloatArray() {
        checkOpen();
        int n = Math.toIntExact(elementCount());
        float[] out = new float[n];
        if (dtype == DType.F32) {
            MemorySegment.copy(data, F32, 0, out, 0, n);
        } else {
            for (int i = 0; i < n; i++) {
                out[i] = getFloat(i);
            }
        }
        return out;
    }

    public long[] toLongArray() {
        checkOpen();
        int n = Math.toIntExact(elementCount());
        long[] out = new long[n];
        for (int i = 0; i < n; i++) {
            out[i] = getLong(i);
        }
        return out;
    }

    /** A new tensor of the same shape converted to {@code target} (F32 <-> F16/BF16 rounding to nearest even). */
    public Tensor to(DType target) {
        checkOpen();
        Tensor out = allocate(shape, target);
        if (target == dtype) {
            MemorySegment.copy(data, 0, out.data, 0, data.byteSize());
            return out;
        }
        long n = elementCount();
        boolean integral = !target.isFloatingPoint() && !dtype.isFloatingPoint();
        for (long i = 0; i < n; i++) {
            if (integral) {
                if (target == DType.I64) {
                    out.data.setAtIndex(I64, i, getLong(i));
                } else {
                    out.data.setAtIndex(I32, i, Math.toIntExact(getLong(i)));
                }
            } else {
                out.setFloat(i, getFloat(i));
            }
        }
        return out;
    }

    /** Copies all bytes of {@code src}, which must have the same shape and dtype. */
    public void copyFrom(Tensor src) {
        if (!src.shape.equals(shape) || src.dtype != dtype) {
            throw new IllegalArgumentException("copy " + src.shape + " " + src.dtype + " into " + shape + " " + dtype);
        }
        MemorySegment.copy(src.segment(), 0, segment(), 0, data.byteSize());
    }

    /** Sets every element to NaN (floating types) so that an element a kernel forgets to write shows up. */
    public void poison() {
        checkOpen();
        switch (dtype) {
            case F32 -> data.fill((byte) 0xFF); // 0xFFFFFFFF is a NaN
            case F16, BF16 -> data.fill((byte) 0xFF); // 0xFFFF is a NaN in both
            default -> data.fill((byte) 0x7F);
        }
    }

    private void checkOpen() {
        if (closed || !data.scope().isAlive()) {
            throw new IllegalStateException("tensor " + shape + " " + dtype + " used after its memory was freed");
        }
    }

    /** Frees owned memory; for a view, marks only this handle closed. Closing twice is allowed. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (arena != null) {
            LIVE_BYTES.addAndGet(-data.byteSize());
            LIVE_ALLOCATIONS.decrementAndGet();
            arena.close();
        }
    }

    /** Bytes held by owned tensors that are not yet closed, for leak checks and memory reports. */
    public static long liveBytes() {
        return LIVE_BYTES.get();
    }

    /** Highest value {@link #liveBytes()} has reached in this JVM. */
    public static long peakLiveBytes() {
        return PEAK_LIVE_BYTES.get();
    }

    public static long liveAllocations() {
        return LIVE_ALLOCATIONS.get();
    }

    @Override
    public String toString() {
        return "Tensor" + shape + " " + dtype + (ownsMemory() ? "" : " (view)");
    }
}
