package io.jdiffusion.models.scheduler;

import io.jdiffusion.models.rng.NoiseSource;

/** What every sampler shares: the noise schedule, the current timesteps, argument checks. */
abstract class AbstractScheduler implements Scheduler {
    protected final String name;
    protected final NoiseSchedule schedule;
    /** The UNet timesteps of the current chain; null before {@link #setTimesteps}. */
    protected float[] timesteps;
    protected int numInferenceSteps;
    protected float[] predOriginal;

    AbstractScheduler(String name, NoiseSchedule schedule) {
        this.name = name;
        this.schedule = schedule;
    }

    @Override
    public final void setTimesteps(int steps) {
        if (steps < 1 || steps > schedule.trainSteps()) {
            throw new IllegalArgumentException(name + ": the number of inference steps must be in [1, "
                    + schedule.trainSteps() + "], got " + steps);
        }
        float[] chosen = chooseTimesteps(steps);
        for (float t : chosen) {
            // e.g. PNDM's leading spacing with steps_offset 1 reaches timestep 1000 at 1000 steps, past the schedule
            if (!(t >= 0 && t < schedule.trainSteps())) {
                throw new IllegalArgumentException(name + ": " + steps + " steps reach timestep " + t + ", outside the "
                        + schedule.trainSteps() + " training timesteps of this scheduler config; use fewer steps");
            }
        }
        numInferenceSteps = steps;
        predOriginal = null;
        timesteps = chosen;
    }

    /** Computes the timesteps (and any sigmas) for {@code steps} steps and clears the chain's state. */
    protected abstract float[] chooseTimesteps(int steps);

    @Override
    public final float[] timesteps() {
        requireTimesteps();
        return timesteps.clone();
    }

    /** Timestep-space samplers (DDIM, PNDM, DPM-Solver) start from unit noise; sigma-space ones override. */
    @Override
    public float initNoiseSigma() {
        return 1f;
    }

    /** The identity for timestep-space samplers; sigma-space ones divide by sqrt(sigma^2 + 1). */
    @Override
    public float[] scaleModelInput(float[] sample, int callIndex) {
        checkCall(callIndex, sample);
        return sample;
    }

    @Override
    public float[] predOriginalSample() {
        return predOriginal == null ? null : predOriginal.clone();
    }

    @Override
    public int orderOfCalls() {
        return 1;
    }

    /**
     * The variance-exploding noise level {@code sqrt((1 - a_t) / a_t)} of the call's integer timestep, which
     * is what timestep-space samplers (DDIM, PNDM, DDPM, LCM) assume of their input.
     */
    @Override
    public float noiseLevel(int callIndex) {
        checkIndex(callIndex);
        float a = schedule.alphaCumprod((int) timesteps[callIndex]);
        return (float) Math.sqrt((1f - a) / a);
    }

    private void requireTimesteps() {
        if (timesteps == null) {
            throw new IllegalStateException(name + ": call setTimesteps before using the scheduler");
        }
    }

    /** Checks that setTimesteps was called and that the call index lies in the chain. */
    protected final void checkIndex(int callIndex) {
        requireTimesteps();
        if (callIndex < 0 || callIndex >= timesteps.length) {
            throw new IllegalArgumentException(name + ": call index " + callIndex + " outside [0, " + timesteps.length
                    + ") for " + numInferenceSteps + " steps");
        }
    }

    /** Checks a call index and that all arrays have the sample's length. */
    protected final void checkCall(int callIndex, float[] sample, float[]... others) {
        checkIndex(callIndex);
        if (sample == null) {
            throw new IllegalArgumentException(name + ": sample is null");
        }
        for (float[] other : others) {
            if (other == null || other.length != sample.length) {
                throw new IllegalArgumentException(name + ": arrays must all have the sample's length " + sample.length
                        + ", got " + (other == null ? "null" : other.length));
            }
        }
    }

    /** The ancestral noise of a step, drawn as diffusers' randn_tensor draws it on a CPU generator. */
    protected final float[] drawNoise(NoiseSource noise, int n) {
        if (noise == null) {
            throw new IllegalArgumentException(name + " draws noise during the chain: pass a noise source");
        }
        float[] z = noise.randn(n);
        if (z.length != n) {
            throw new IllegalArgumentException(name + ": the noise source returned " + z.length + " values, not " + n);
        }
        return z;
    }
}
