package io.jdiffusion.models.pipeline;

/** Wall-clock milliseconds per pipeline stage, and the number of UNet calls made. */
public record StageTimings(double textEncoderMs, double vaeEncodeMs, double unetTotalMs, int unetCalls,
                           double vaeDecodeMs, double totalMs) {
    public double unetPerCallMs() {
        return unetCalls == 0 ? 0 : unetTotalMs / unetCalls;
    }
}
