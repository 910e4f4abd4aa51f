package io.jdiffusion.models.weights;

import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
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

    /** @param storage F32, F16 or BF16: the dtype the weights are kept in (F16 halves the memory) */
    public RandomWeights(long seed, DType storage) {
        if (!storage.isFloatingPoint()) {
            throw new IllegalArgumentException("random weights need a float dtype, not " + storage);
        }
        this.seed = seed;
        this.storage = storage;
    }

    @Override
    public synchronized Tensor find(String name, Shape shape) {
        Tensor t = Tensor.allocate(shape, storage);
        owned.add(t);
        fill(t, name);
        return t;
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

    /** Frees every tensor made. */
    @Override
    public synchronized void close() {
        owned.forEach(Tensor::close);
        owned.clear();
    }
}
