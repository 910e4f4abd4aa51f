package io.jdiffusion.models.scheduler;

import java.util.Arrays;

/**
 * The k-diffusion samplers that evaluate the model twice per step (Heun, DPM2, DPM2 a, DPM++ 2S a): call
 * {@code 2k} evaluates step k's start, call {@code 2k + 1} an intermediate point, and the step is then taken
 * again from its start. The last step, down to sigma 0, has its first call only. This class keeps the
 * step's start between its two calls and counts two calls per step for image-to-image.
 */
abstract class TwoStageScheduler extends SigmaSpaceScheduler {
    /** The sample at the start of the step in progress; null between steps. */
    protected float[] startSample;

    TwoStageScheduler(String name, SchedulerConfig config, PredictionType... supported) {
        super(name, config, NoiseSchedule.ZeroSnr.IGNORED, false, false, supported);
    }

    @Override
    protected void resetChain() {
        startSample = null;
    }

    /** The step a call belongs to. */
    protected static int stepOf(int callIndex) {
        return callIndex / 2;
    }

    /** Whether the call evaluates its step's start (else the intermediate point). */
    protected static boolean isFirstCall(int callIndex) {
        return callIndex % 2 == 0;
    }

    /**
     * The first call of a step that goes through an intermediate level: an Euler step from the step's
     * start (whose x0 estimate is {@code x0}) to {@code intermediate}, remembering the start.
     */
    protected final float[] eulerToIntermediate(float[] sample, float[] x0, float sigma, float intermediate) {
        startSample = sample;
        predOriginal = x0;
        return eulerStep(sample, derivative(sample, x0, sigma), intermediate - sigma);
    }

    /**
     * The calls of a chain whose step k is evaluated at its start and then at {@code midpoints[k]} (the
     * midpoint's timestep is interpolated in log sigma); the last step's second call is dropped by interleave.
     */
    protected final CallPlan midpointCalls(float[] stepTimesteps, float[] midpoints) {
        int n = stepTimesteps.length;
        float[] midTimesteps = new float[n];
        for (int k = 0; k < n; k++) {
            midTimesteps[k] = timestepOf(midpoints[k]);
        }
        return new CallPlan(interleave(stepTimesteps, midTimesteps), interleave(Arrays.copyOf(sigmas, n), midpoints));
    }

    @Override
    public final int orderOfCalls() {
        return 2;
    }
}
