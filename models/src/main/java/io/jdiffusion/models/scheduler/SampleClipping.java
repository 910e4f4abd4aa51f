package io.jdiffusion.models.scheduler;

/** diffusers' {@code clip_sample}: the x0 estimate clamped to {@code [-range, range]} when on (pixel-space models). */
record SampleClipping(boolean on, float range) {

    /** The config's {@code clip_sample} (or the class's default) and {@code clip_sample_range} (default 1). */
    static SampleClipping fromConfig(SchedulerConfig config, boolean classDefault) {
        return new SampleClipping(config.flag("clip_sample", classDefault), (float) config.number("clip_sample_range", 1.0));
    }

    /** Clamps {@code x0} in place when on. */
    void apply(float[] x0) {
        if (on) {
            for (int i = 0; i < x0.length; i++) {
                x0[i] = Math.min(Math.max(x0[i], -range), range);
            }
        }
    }
}
