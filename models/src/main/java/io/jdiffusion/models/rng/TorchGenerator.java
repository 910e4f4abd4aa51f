package io.jdiffusion.models.rng;

/**
 * A port of PyTorch's CPU generator ({@code torch.Generator("cpu").manual_seed(seed)}) and of the float32
 * {@code torch.randn} / {@code torch.rand} kernels that draw from it, so that a seed gives the same
 * initial latents and ancestral noise as diffusers on the CPU.
 *
 * <p>How torch draws (ATen's DistributionTemplates.h, the AVX2 kernel that x86 builds dispatch to; its
 * AVX-512 build registers no normal kernel of its own):
 * <ul>
 *   <li>A float uniform is {@code (mt19937() & 0xFFFFFF) * 2^-24}; a double uniform takes two 32-bit
 *       draws as {@code (hi << 32 | lo)} and keeps 53 bits.</li>
 *   <li>{@code randn(n)} with {@code n >= 16} first fills all n uniforms, then runs Box-Muller in place on
 *       blocks of 16 (radius from {@code 1 - u[j]}, angle from {@code u[j + 8]}, cos into j and sin into
 *       j + 8), in float with Cephes polynomials (see {@link CephesFloatMath}). When n is not a multiple
 *       of 16, it then draws 16 fresh uniforms for the last 16 positions and transforms them again.</li>
 *   <li>{@code randn(n)} with {@code n < 16} takes the scalar double path: {@code normal_distribution<double>}
 *       draws two double uniforms, returns {@code r cos(theta)} and keeps {@code r sin(theta)} in the
 *       generator for the next scalar draw, even across calls (the cache is dropped only by reseeding).</li>
 * </ul>
 * Not thread-safe: one generator belongs to one generation, as in diffusers.
 */
public final class TorchGenerator implements NoiseSource {
    private static final int BLOCK = 16;
    private static final float FLOAT_UNIT = 1f / (1 << 24);
    private static final double DOUBLE_UNIT = 1.0 / (1L << 53);
    /** {@code _mm256_set1_ps(2.0f * c10::pi<double>)}: 2 pi rounded to float. */
    private static final float TWO_PI_FLOAT = (float) (2.0 * Math.PI);

    private final long seed;
    private final Mt19937 engine;
    /** torch's {@code next_double_normal_sample}: the sine half of the last scalar Box-Muller pair. */
    private double cachedNormal;
    private boolean hasCachedNormal;
    private final float[] sinCos = new float[2];

    /** A generator in the state of {@code torch.Generator("cpu").manual_seed(seed)}. */
    public TorchGenerator(long seed) {
        this.seed = seed;
        this.engine = new Mt19937(seed);
    }

    public long seed() {
        return seed;
    }

    /** {@code torch.randn(n, generator=this)} in float32. */
    @Override
    public float[] randn(int n) {
        if (n < 0) {
            throw new IllegalArgumentException("randn size must be >= 0, got " + n);
        }
        float[] out = new float[n];
        if (n < BLOCK) {
            for (int i = 0; i < n; i++) {
                out[i] = (float) nextDoubleNormal();
            }
            return out;
        }
        for (int i = 0; i < n; i++) {
            out[i] = nextFloatUniform();
        }
        for (int i = 0; i + BLOCK <= n; i += BLOCK) {
            boxMuller16(out, i);
        }
        if (n % BLOCK != 0) {
            int tail = n - BLOCK;
            for (int i = 0; i < BLOCK; i++) {
                out[tail + i] = nextFloatUniform();
            }
            boxMuller16(out, tail);
        }
        return out;
    }

    /** {@code torch.rand(n, generator=this)} in float32: uniform in [0, 1). */
    public float[] rand(int n) {
        if (n < 0) {
            throw new IllegalArgumentException("rand size must be >= 0, got " + n);
        }
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = nextFloatUniform();
        }
        return out;
    }

    private float nextFloatUniform() {
        return (engine.nextInt() & 0xFFFFFF) * FLOAT_UNIT;
    }

    private double nextDoubleUniform() {
        long hi = engine.nextInt() & 0xFFFFFFFFL;
        long lo = engine.nextInt() & 0xFFFFFFFFL;
        return (((hi << 32) | lo) & ((1L << 53) - 1)) * DOUBLE_UNIT;
    }

    /** {@code at::normal_distribution<double>(0, 1)} with the generator's cached second value. */
    private double nextDoubleNormal() {
        if (hasCachedNormal) {
            hasCachedNormal = false;
            return cachedNormal;
        }
        double u1 = nextDoubleUniform();
        double u2 = nextDoubleUniform();
        double r = StrictMath.sqrt(-2.0 * StrictMath.log1p(-u2));
        double theta = 2.0 * Math.PI * u1;
        cachedNormal = r * StrictMath.sin(theta);
        hasCachedNormal = true;
        return r * StrictMath.cos(theta);
    }

    /** torch's normal_fill_16_AVX2 (mean 0, std 1): Box-Muller over the pairs (j, j + 8) of one block. */
    private void boxMuller16(float[] data, int offset) {
        for (int j = 0; j < BLOCK / 2; j++) {
            float u1 = 1f - data[offset + j]; // [0, 1) -> (0, 1] for the log
            float u2 = data[offset + j + BLOCK / 2];
            float radius = (float) Math.sqrt(-2f * CephesFloatMath.log(u1));
            CephesFloatMath.sinCos(TWO_PI_FLOAT * u2, sinCos);
            // torch stores fmadd(n, std, mean) = n + 0: a -0.0 (radius 0 with a negative cosine) becomes +0.0
            data[offset + j] = radius * sinCos[1] + 0f;
            data[offset + j + BLOCK / 2] = radius * sinCos[0] + 0f;
        }
    }
}
