package io.jdiffusion.cpu;

import io.jdiffusion.core.DType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;
import java.util.function.IntFunction;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link PackedWeights#stage} widens runs of stored values into an F32 array: every value of the run, read back one at
 * a time by {@link PackedWeights#get}, lands at its place, and nothing outside the run is written. Runs start at odd
 * offsets on both sides and have lengths below, at and past whole vectors, so that the vector loops and their scalar
 * tails both run, at the vector width of the JVM; likewise the runs staged off the heap through a bounce array.
 */
class PackedWeightsStageTest {
    /** Past two bounce pieces, so that a staged run off the heap takes two whole pieces and a partial one. */
    private static final int VALUES = 2 * PackedWeights.BOUNCE_FLOATS + 4 * CpuVectors.L * 7 + 5;

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F16", "BF16"})
    void stagedRunsHoldTheStoredValuesAndNothingElse(DType storage) {
        Random random = new Random(17 + storage.ordinal());
        float[] values = new float[VALUES];
        for (int i = 0; i < VALUES; i++) {
            // signs, magnitudes from subnormal F16 to large, and exact zeros
            values[i] = i % 23 == 0 ? 0f : (float) (random.nextGaussian() * Math.pow(10, random.nextInt(9) - 6));
        }
        PackedWeights weights = PackedWeights.allocate(VALUES, storage);
        try {
            weights.write(0, values, 0, VALUES);
            int l = CpuVectors.L;
            int[][] runs = {{0, VALUES, 0}, {3, 1, 0}, {1, l - 1, 2}, {5, l, 1}, {7, l + 1, 3}, {2, 3 * l + 2, 0},
                    {11, VALUES - 11, 4}};
            for (int[] run : runs) {
                int from = run[0], count = run[1], to = run[2];
                float[] staged = new float[to + count + 3];
                Arrays.fill(staged, Float.NaN);
                weights.stage(from, count, staged, to);
                assertRun(weights, storage + " run " + Arrays.toString(run), run, staged.length, i -> staged[i]);
            }
            assertSegmentRunsMatch(weights, storage, random);
            if (storage == DType.BF16) {
                // BF16 storage keeps a float's top 16 bits (truncation): the staged value is exactly that
                float[] all = new float[VALUES];
                weights.stage(0, VALUES, all, 0);
                for (int i = 0; i < VALUES; i++) {
                    assertThat(Float.floatToRawIntBits(all[i])).isEqualTo(Float.floatToRawIntBits(values[i]) & 0xFFFF0000);
                }
            }
        } finally {
            weights.free();
        }
    }

    /**
     * The same runs staged off the heap through a bounce array ({@link PackedWeights#stage(long, int,
     * MemorySegment, long, float[])}), from byte offsets that are not multiples of a vector; the
     * bounce array starts as garbage, as a thread's scratch does.
     */
    private static void assertSegmentRunsMatch(PackedWeights weights, DType storage, Random random) {
        int[][] runs = {{0, VALUES, 0}, {3, 1, 1}, {5, PackedWeights.BOUNCE_FLOATS, 3},
                {7, PackedWeights.BOUNCE_FLOATS + 1, 0}, {11, VALUES - 11, 5}};
        for (int[] run : runs) {
            int from = run[0], count = run[1], to = run[2];
            MemorySegment staged = Arena.ofAuto().allocate(4L * (to + count + 3), 64);
            for (long i = 0; i < staged.byteSize() / 4; i++) {
                staged.setAtIndex(CpuVectors.FLOAT, i, Float.NaN);
            }
            float[] bounce = new float[PackedWeights.BOUNCE_FLOATS];
            for (int i = 0; i < bounce.length; i++) {
                bounce[i] = random.nextFloat();
            }
            weights.stage(from, count, staged, 4L * to, bounce);
            assertRun(weights, storage + " off-heap run " + Arrays.toString(run), run, to + count + 3,
                    i -> staged.getAtIndex(CpuVectors.FLOAT, i));
        }
    }

    /**
     * The {@code length} staged values {@code got} reads, for {@code run} = {from, count, to}: NaN (as poisoned) outside
     * [to, to + count), and inside it the bits of the stored value {@code from + i - to} as {@link PackedWeights#get}
     * reads it.
     */
    private static void assertRun(PackedWeights weights, String what, int[] run, int length, IntFunction<Float> got) {
        int from = run[0], count = run[1], to = run[2];
        for (int i = 0; i < length; i++) {
            float value = got.apply(i);
            if (i < to || i >= to + count) {
                assertThat(value).as("%s: index %d outside the run", what, i).isNaN();
            } else {
                assertThat(Float.floatToRawIntBits(value)).as("%s: value %d", what, from + i - to)
                        .isEqualTo(Float.floatToRawIntBits(weights.get(from + i - to)));
            }
        }
    }
}
