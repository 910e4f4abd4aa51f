package io.jdiffusion.models.scheduler;

/**
 * The integer timesteps and noise levels of diffusers' multistep solvers in log-SNR time
 * ({@code DPMSolverMultistepScheduler}, {@code UniPCMultistepScheduler}):
 * <ul>
 *   <li>by default {@link TimestepSpacing#dpmSolver} timesteps and their interpolated training sigmas;</li>
 *   <li>with Karras or exponential sigmas, those sigmas between sigma(0) and sigma(T - 1) and each timestep
 *       mapped back from its sigma: rounded for Karras (except where the class skips the rounding),
 *       truncated to an integer for exponential, as diffusers' final {@code int64} cast does;</li>
 *   <li>a final sigma 0, or the smallest training sigma for {@code final_sigmas_type = "sigma_min"}.</li>
 * </ul>
 */
record MultistepChain(float[] timesteps, float[] sigmas) {

    static MultistepChain build(NoiseSchedule schedule, long[] spacedTimesteps, boolean karras, boolean exponential,
                                boolean roundKarrasTimesteps, boolean finalSigmaZero) {
        float[] trainingSigmas = schedule.trainingSigmas();
        int steps = spacedTimesteps.length;
        long[] integerTimesteps = spacedTimesteps;
        double[] chain;
        if (karras || exponential) {
            // diffusers flips the training sigmas: the chain runs from sigma(T - 1) down to sigma(0)
            double sigmaMin = trainingSigmas[0];
            double sigmaMax = trainingSigmas[trainingSigmas.length - 1];
            chain = karras ? KarrasSigmas.sigmas(sigmaMin, sigmaMax, steps) : ExponentialSigmas.sigmas(sigmaMin, sigmaMax, steps);
            float[] logSigmas = KarrasSigmas.logOf(trainingSigmas);
            integerTimesteps = new long[chain.length];
            for (int i = 0; i < chain.length; i++) {
                double t = KarrasSigmas.sigmaToTimestep(chain[i], logSigmas);
                integerTimesteps[i] = (long) (karras && roundKarrasTimesteps ? NumpyMath.round(t) : t);
            }
        } else {
            double[] x = new double[steps];
            for (int i = 0; i < steps; i++) {
                x[i] = spacedTimesteps[i];
            }
            chain = NumpyMath.interpOnIntegerGrid(x, trainingSigmas);
        }
        float[] sigmas = new float[chain.length + 1];
        for (int i = 0; i < chain.length; i++) {
            sigmas[i] = (float) chain[i];
        }
        sigmas[chain.length] = finalSigmaZero ? 0f : trainingSigmas[0];
        float[] timesteps = new float[integerTimesteps.length];
        for (int i = 0; i < timesteps.length; i++) {
            timesteps[i] = integerTimesteps[i];
        }
        return new MultistepChain(timesteps, sigmas);
    }

    /** The VP image of a noise level of this chain. */
    AlphaSigma at(int index) {
        return AlphaSigma.of(sigmas[index]);
    }
}
