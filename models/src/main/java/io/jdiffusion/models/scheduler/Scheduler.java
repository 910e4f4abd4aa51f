package io.jdiffusion.models.scheduler;

import io.jdiffusion.models.rng.NoiseSource;

/**
 * A diffusers sampler, driven by call index: after {@link #setTimesteps}, the pipeline calls the UNet once
 * per entry of {@link #timesteps()} (in order, call index 0, 1, ...) and passes each output to
 * {@link #step}. Samples are flat float32 arrays of one latent batch (any shape: the schedulers are
 * element-wise). Each implementation follows the diffusers class of the same name, formula by formula in
 * float32, so that a 20-step chain matches diffusers to about 1e-7.
 *
 * <p>Multistep and two-stage samplers (PNDM, DPM-Solver, LMS, UniPC, Heun, DPM2) keep the previous model outputs: steps must be called in
 * order, and {@link #setTimesteps} starts a new chain. Not thread-safe.
 */
public interface Scheduler {

    /** Chooses the inference timesteps for {@code numInferenceSteps} steps and clears all state. */
    void setTimesteps(int numInferenceSteps);

    /**
     * The timestep passed to the UNet at each call, as a float (Euler, Euler a and LMS use fractional
     * timesteps). PNDM has one more call than steps: its second timestep repeats.
     */
    float[] timesteps();

    /** The factor diffusers multiplies the initial noise by (14.6146 for Euler on SD 1.5, 1 for PNDM). */
    float initNoiseSigma();

    /** The UNet input at call {@code callIndex}: a new array, or {@code sample} itself when the scaling is the identity. */
    float[] scaleModelInput(float[] sample, int callIndex);

    /**
     * One sampler step: the sample of the next call, as a new array. Stochastic samplers (Euler a, DDIM with
     * eta > 0, DPM2 a, DPM++ 2S a, DPM++ 2M SDE, DDPM, LCM) draw {@code randn(sample.length)} from
     * {@code noise} exactly as diffusers does (pass the generation's TorchGenerator), which must then be
     * non-null; deterministic samplers ignore it.
     */
    float[] step(float[] modelOutput, int callIndex, float[] sample, NoiseSource noise);

    /**
     * The variance-exploding noise level sigma that the sampler assumes of the sample it gets at call
     * {@code callIndex} ({@code x = x0 + sigma eps} in the sampler's sigma space; for timestep-space
     * samplers, {@code sqrt((1 - a_t) / a_t)} of the call's timestep). Previews and tests read it.
     */
    float noiseLevel(int callIndex);

    /** The x0 estimate of the last {@link #step}, or null where the sampler does not compute one (PNDM). */
    float[] predOriginalSample();

    /** diffusers {@code add_noise} at {@code timesteps()[callIndex]}: the noised start of an img2img chain. */
    float[] addNoise(float[] original, float[] noise, int callIndex);

    /**
     * diffusers' {@code scheduler.order}: UNet calls per step in the img2img start-index arithmetic (2 for
     * Heun, DPM2, DPM2 a and DPM++ 2S a, whose steps evaluate the model twice; 1 for the others).
     */
    int orderOfCalls();
}
