package io.jdiffusion.models.scheduler;

import io.jdiffusion.models.rng.NoiseSource;

import java.util.ArrayList;
import java.util.List;

/**
 * diffusers' {@code LMSDiscreteScheduler}: a linear multistep method of order 4 on the derivatives
 * {@code (x - x0) / sigma}. The weight of each stored derivative is the integral, from this step's sigma
 * to the next, of its Lagrange basis polynomial over the last {@code order} sigmas ({@link LagrangeWeights};
 * diffusers evaluates the same integral with scipy's quad). The order grows 1, 2, 3, 4 over the first steps
 * as derivatives accumulate.
 */
final class LmsScheduler extends SigmaSpaceScheduler {
    static final int ORDER = 4;

    /** The last {@link #ORDER} derivatives, oldest first. */
    private final List<float[]> derivatives = new ArrayList<>();

    LmsScheduler(SchedulerConfig config) {
        super("lms", config, NoiseSchedule.ZeroSnr.IGNORED, false, false,
                PredictionType.EPSILON, PredictionType.V_PREDICTION, PredictionType.SAMPLE);
    }

    @Override
    protected void resetChain() {
        derivatives.clear();
    }

    @Override
    public float[] step(float[] modelOutput, int callIndex, float[] sample, NoiseSource noise) {
        checkCall(callIndex, sample, modelOutput);
        float sigma = sigmas[callIndex];
        float[] x0 = prediction.denoisedVe(sample, modelOutput, sigma);
        derivatives.add(derivative(sample, x0, sigma));
        if (derivatives.size() > ORDER) {
            derivatives.removeFirst();
        }
        int order = Math.min(callIndex + 1, ORDER);
        double[] nodes = new double[order];
        for (int k = 0; k < order; k++) {
            nodes[k] = sigmas[callIndex - k];
        }
        // like diffusers' zip(coefficients, reversed(derivatives)): a chain that starts late (img2img) has
        // fewer derivatives than the order, and the extra coefficients go unused
        int terms = Math.min(order, derivatives.size());
        float[] sum = null;
        for (int k = 0; k < terms; k++) {
            float coefficient = (float) LagrangeWeights.integral(nodes, k, sigma, sigmas[callIndex + 1]);
            float[] d = derivatives.get(derivatives.size() - 1 - k);
            if (sum == null) {
                sum = new float[d.length];
                for (int i = 0; i < d.length; i++) {
                    sum[i] = coefficient * d[i];
                }
            } else {
                for (int i = 0; i < d.length; i++) {
                    sum[i] = sum[i] + coefficient * d[i];
                }
            }
        }
        float[] prev = new float[sample.length];
        for (int i = 0; i < prev.length; i++) {
            prev[i] = sample[i] + sum[i];
        }
        predOriginal = x0;
        return prev;
    }
}
