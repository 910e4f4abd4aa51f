package io.jdiffusion.backend.testing;

import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

import java.security.SecureRandom;
import java.util.SplittableRandom;

/**
 * Random test data from a fresh seed per run (so every run tries new inputs), or from
 * {@value #SEED_PROPERTY} to replay a failure. {@link #toString()} names the seed; put it in every
 * assertion message.
 */
public final class TestRandom {
    public static final String SEED_PROPERTY = "jdiffusion.test.seed";

    private final long seed;
    private final SplittableRandom random;

    public TestRandom(long seed) {
        this.seed = seed;
        this.random = new SplittableRandom(seed);
    }

    /** A generator seeded from {@value #SEED_PROPERTY} when set, else from fresh entropy. */
    public static TestRandom fresh() {
        String s = System.getProperty(SEED_PROPERTY);
        if (s != null && !s.isBlank()) {
            return new TestRandom(Long.parseLong(s.strip()));
        }
        return new TestRandom(new SecureRandom().nextLong());
    }

    public long seed() {
        return seed;
    }

    public int nextInt(int bound) {
        return random.nextInt(bound);
    }

    public double nextGaussian() {
        // Box-Muller on two uniforms; SplittableRandom has no gaussian of its own on every JDK.
        double u1 = 1.0 - random.nextDouble();
        double u2 = random.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }

    /** An F32 tensor of N(mean, std^2) values. */
    public Tensor normal(Shape shape, double mean, double std) {
        Tensor t = Tensor.allocate(shape, DType.F32);
        for (long i = 0; i < t.elementCount(); i++) {
            t.setFloat(i, (float) (mean + std * nextGaussian()));
        }
        return t;
    }

    public Tensor normal(Shape shape, double std) {
        return normal(shape, 0, std);
    }

    /** An F32 tensor of uniform values in [lo, hi). */
    public Tensor uniform(Shape shape, double lo, double hi) {
        Tensor t = Tensor.allocate(shape, DType.F32);
        for (long i = 0; i < t.elementCount(); i++) {
            t.setFloat(i, (float) (lo + (hi - lo) * random.nextDouble()));
        }
        return t;
    }

    /** Integer ids in [0, bound) of type I32 or I64. */
    public Tensor ids(Shape shape, int bound, DType dtype) {
        Tensor t = Tensor.allocate(shape, dtype);
        for (long i = 0; i < t.elementCount(); i++) {
            long id = random.nextInt(bound);
            if (dtype == DType.I64) {
                t.segment().setAtIndex(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, i, id);
            } else {
                t.segment().setAtIndex(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, i, (int) id);
            }
        }
        return t;
    }

    @Override
    public String toString() {
        return "seed " + seed + " (replay with -D" + SEED_PROPERTY + "=" + seed + ")";
    }
}
