package io.jdiffusion.models.pipeline;

/**
 * Wall-clock milliseconds per pipeline stage. {@code preparationMs} is the one-time work before networks first
 * run (graph recording, compilation and preparation: weight packing, Winograd transforms, task-graph building,
 * GPU kernel JIT; and the first UNet call's excess over the others, where a GPU backend uploads the weights);
 * the stage figures leave it out, so they are what the next image with the same shapes costs.
 *
 * @param unetSteps denoising steps run; PNDM's first step calls the UNet twice, so {@code unetCalls} may be one more
 */
public record StageTimings(double preparationMs, double textEncoderMs, double vaeEncodeMs, double unetTotalMs,
                          int unetSteps, int unetCalls, double vaeDecodeMs, double totalMs) {
    public double unetPerCallMs() {
        return unetCalls == 0 ? 0 : unetTotalMs / unetCalls;
    }
}
