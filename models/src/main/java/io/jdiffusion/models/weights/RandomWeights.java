package io.jdiffusion.models.weights;

import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Seeded random weights made on request, for benchmarks and tests on machines without a checkpoint. Each
 * tensor is filled in parallel chunks, every chunk from its own generator seeded by (seed, tensor name,
 * chunk index), so the values depend on the seed and the name only, never on thread scheduling or on the
 * order in which a network asks for its weights.
 *
 * <p>The weights live in a memory-mapped scratch file, unlinked as soon as it is created, exactly as a
 * checkpoint's weights live in its mapped file: the CPU backend hands a mapped weight's pages back once it has
 * packed it, so a full-size random model costs its packed copy and not a second resident copy of every weight
 * (SDXL's 6.9 GB of F16 weights held on the heap beside their packed copy exhausted a 23 GiB machine).
 *
 * <p>The distributions follow the golden tiny model, so activations stay finite through deep networks:
 * norm weights 1 + 0.05 N(0,1); biases 0.05 N(0,1); CLIP token/position embeddings 0.3 N(0,1); every other
 * matrix or kernel N(0,1)/sqrt(fan_in).
 */
public final class RandomWeights implements WeightSource, AutoCloseable {
    private static final int CHUNK = 1 << 20;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final long seed;
    private final DType storage;
    private final List<Tensor> owned = new ArrayList<>();
    private final Arena mappings = Arena.ofShared();
    private final FileChannel scratch;
    private long scratchBytes;

    /**
     * @param storage F32, F16 or BF16: the dtype the weights are kept in (F16 halves the memory)
     * @throws UncheckedIOException when the scratch file cannot be made in {@code java.io.tmpdir}
     */
    public RandomWeights(long seed, DType storage) {
        if (!storage.isFloatingPoint()) {
            throw new IllegalArgumentException("random weights need a float dtype, not " + storage);
        }
        this.seed = seed;
        this.storage = storage;
        try {
            Path file = Files.createTempFile("jdiffusion-random-weights-", ".bin");
            scratch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
            // Unlinked at once: the mapping keeps the space alive, and nothing is left behind by a crash.
            Files.delete(file);
        } catch (IOException e) {
            mappings.close();
            throw new UncheckedIOException("cannot make the scratch file for random weights in "
                    + System.getProperty("java.io.tmpdir") + ": " + e.getMessage(), e);
        }
    }

    @Override
    public synchronized Tensor find(String name, Shape shape) {
        Tensor t = mapped(shape);
        owned.add(t);
        fill(t, name);
        if (t.segment().isMapped()) {
            // Written pages go to the file's page cache, not the resident set: the model costs nothing resident
            // until a backend reads (and packs) a weight, as a checkpoint's mapped file does.
            t.segment().unload();
        }
        return t;
    }

    /** A tensor of the next free region of the scratch file, kept 64-byte aligned. */
    private Tensor mapped(Shape shape) {
        long bytes = shape.elementCount() * storage.byteSize();
        if (bytes == 0) {
            return Tensor.allocate(shape, storage);
        }
        try {
            MemorySegment segment = scratch.map(FileChannel.MapMode.READ_WRITE, scratchBytes, bytes, mappings);
            scratchBytes += (bytes + Tensor.ALIGNMENT - 1) / Tensor.ALIGNMENT * Tensor.ALIGNMENT;
            return Tensor.view(segment, shape, storage);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot map " + bytes + " bytes of random weights (is "
                    + System.getProperty("java.io.tmpdir") + " full?): " + e.getMessage(), e);
        }
    }

    private void fill(Tensor t, String name) {
        Shape s = t.shape();
        float mean;
        float std;
        if (s.rank() == 1 && name.endsWith("weight")) {
            mean = 1f;
            std = 0.05f;
        } else if (name.endsWith("bias")) {
            mean = 0f;
            std = 0.05f;
        } else if (name.contains("embeddings.")) {
            mean = 0f;
            std = 0.3f;
        } else {
            mean = 0f;
            std = (float) (1.0 / Math.sqrt(Math.max(1, s.innerCount())));
        }
        long n = t.elementCount();
        long nameHash = fnv1a64(name);
        int chunks = (int) ((n + CHUNK - 1) / CHUNK);
        MemorySegment seg = t.segment();
        IntStream stream = IntStream.range(0, chunks);
        (chunks > 1 ? stream.parallel() : stream).forEach(c -> {
            SplittableRandom rng = new SplittableRandom(mix(seed, nameHash, c));
            long from = (long) c * CHUNK;
            int count = (int) Math.min(CHUNK, n - from);
            float[] values = new float[count];
            for (int i = 0; i < count; i++) {
                values[i] = mean + std * (float) rng.nextGaussian();
            }
            write(seg, from, values);
        });
    }

    private void write(MemorySegment seg, long from, float[] values) {
        switch (storage) {
            case F32 -> MemorySegment.copy(values, 0, seg, F32, from * 4, values.length);
            case F16, BF16 -> {
                short[] bits = new short[values.length];
                for (int i = 0; i < bits.length; i++) {
                    bits[i] = storage == DType.F16 ? Float.floatToFloat16(values[i])
                            : io.jdiffusion.core.HalfFloats.floatToBf16(values[i]);
                }
                MemorySegment.copy(bits, 0, seg, I16, from * 2, bits.length);
            }
            default -> throw new IllegalStateException(storage.toString());
        }
    }

    private static long fnv1a64(String s) {
        long h = 0xcbf29ce484222325L;
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xFF;
            h *= 0x100000001b3L;
        }
        return h;
    }

    /** SplitMix64's finaliser over the three inputs: nearby seeds and chunk indices give unrelated streams. */
    private static long mix(long seed, long nameHash, int chunk) {
        long z = seed * 0x9E3779B97F4A7C15L + nameHash;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L + chunk;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    @Override
    public List<String> unusedNames() {
        return List.of();
    }

    @Override
    public String description() {
        return "random " + storage + " weights (seed " + seed + ")";
    }

    /** Bytes of all weights made so far. */
    public synchronized long bytes() {
        return owned.stream().mapToLong(Tensor::byteSize).sum();
    }

    /** Frees every tensor made and the scratch file. */
    @Override
    public synchronized void close() {
        owned.forEach(Tensor::close);
        owned.clear();
        mappings.close();
        try {
            scratch.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
