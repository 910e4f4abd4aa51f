package io.jdiffusion.models.vae;

import io.jdiffusion.core.Tensor;

/**
 * The VAE encoder's latent distribution on the host, as diffusers' {@code DiagonalGaussianDistribution}:
 * logvar clamped to [-30, 20], std = exp(logvar / 2). Built from the encoder graph's two outputs.
 */
public final class DiagonalGaussian implements AutoCloseable {
    public static final float LOGVAR_MIN = -30f;
    public static final float LOGVAR_MAX = 20f;

    private final Tensor mean;
    private final Tensor logvar;

    /** Copies both tensors, clamping logvar; the caller keeps ownership of its arguments. */
    public DiagonalGaussian(Tensor mean, Tensor rawLogvar) {
        if (!mean.shape().equals(rawLogvar.shape())) {
            throw new IllegalArgumentException("mean " + mean.shape() + " and logvar " + rawLogvar.shape() + " differ");
        }
        this.mean = mean.to(io.jdiffusion.core.DType.F32);
        this.logvar = rawLogvar.to(io.jdiffusion.core.DType.F32);
        for (long i = 0; i < logvar.elementCount(); i++) {
            logvar.setFloat(i, Math.clamp(logvar.getFloat(i), LOGVAR_MIN, LOGVAR_MAX));
        }
    }

    public Tensor mean() {
        return mean;
    }

    /** The clamped log-variance. */
    public Tensor logvar() {
        return logvar;
    }

    /** A new tensor exp(logvar / 2). */
    public Tensor std() {
        Tensor std = Tensor.allocate(logvar.shape(), io.jdiffusion.core.DType.F32);
        for (long i = 0; i < std.elementCount(); i++) {
            std.setFloat(i, (float) Math.exp(0.5 * logvar.getFloat(i)));
        }
        return std;
    }

    /** A new tensor mean + std * noise, for standard-normal {@code noise} of the same shape. */
    public Tensor sample(Tensor noise) {
        if (!noise.shape().equals(mean.shape())) {
            throw new IllegalArgumentException("noise " + noise.shape() + " does not match the latents " + mean.shape());
        }
        Tensor out = Tensor.allocate(mean.shape(), io.jdiffusion.core.DType.F32);
        for (long i = 0; i < out.elementCount(); i++) {
            out.setFloat(i, mean.getFloat(i) + (float) Math.exp(0.5 * logvar.getFloat(i)) * noise.getFloat(i));
        }
        return out;
    }

    @Override
    public void close() {
        mean.close();
        logvar.close();
    }
}
