package io.jdiffusion.models.scheduler;

/** diffusers' {@code add_noise} of the alphas_cumprod schedulers: {@code sqrt(a_t) x0 + sqrt(1 - a_t) noise}. */
final class DdpmNoise {
    private DdpmNoise() {
    }

    static float[] add(NoiseSchedule schedule, int timestep, float[] original, float[] noise) {
        float alphaProd = schedule.alphaCumprod(timestep);
        float sqrtAlpha = (float) Math.sqrt(alphaProd);
        float sqrtOneMinusAlpha = (float) Math.sqrt(1f - alphaProd);
        float[] out = new float[original.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = sqrtAlpha * original[i] + sqrtOneMinusAlpha * noise[i];
        }
        return out;
    }
}
