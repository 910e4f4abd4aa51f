package io.jdiffusion.server.jobs;

import java.awt.image.BufferedImage;

/**
 * A cheap look at latents without the VAE: each pixel is a fixed linear map of its four latent channels to
 * RGB (the factors A1111 calls "Approximate cheap", one set for SD 1.x/2.x's VAE and one for SDXL's), one
 * pixel per latent, so a 512x512 image previews at 64x64. Early in sampling the latents are mostly noise
 * scaled by the first sigma; they are divided by their RMS above 1 so the preview shows shapes instead of
 * saturating.
 */
public final class LatentPreview {
    /** SD 1.x and 2.x (one VAE). Rows: latent channels 0..3; columns: R, G, B. */
    public static final LatentPreview SD = new LatentPreview(new float[][]{
            {0.298f, 0.207f, 0.208f},
            {0.187f, 0.286f, 0.173f},
            {-0.158f, 0.189f, 0.264f},
            {-0.184f, -0.271f, -0.473f}});
    /** SDXL's VAE. */
    public static final LatentPreview SDXL = new LatentPreview(new float[][]{
            {0.3448f, 0.4168f, 0.4395f},
            {-0.1953f, -0.0290f, 0.0250f},
            {0.1074f, 0.0886f, -0.0163f},
            {-0.3730f, -0.2499f, -0.2088f}});

    private final float[][] factors;

    private LatentPreview(float[][] factors) {
        this.factors = factors;
    }

    /** The preview of latents [1, channels, height, width]; null for other channel counts (no factors known). */
    public BufferedImage of(float[] latents, int channels, int height, int width) {
        if (channels != factors.length) {
            return null;
        }
        int plane = height * width;
        double sumSquares = 0;
        for (int i = 0; i < channels * plane; i++) {
            sumSquares += latents[i] * latents[i];
        }
        float rms = (float) Math.sqrt(sumSquares / (channels * plane));
        float scale = rms > 1 ? 1 / rms : 1;
        BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int p = y * width + x;
                int rgb = 0;
                for (int c = 0; c < 3; c++) {
                    float v = 0;
                    for (int k = 0; k < channels; k++) {
                        v += latents[k * plane + p] * scale * factors[k][c];
                    }
                    int byteValue = Math.round(Math.min(1f, Math.max(0f, (v + 1) / 2)) * 255);
                    rgb = (rgb << 8) | byteValue;
                }
                out.setRGB(x, y, rgb);
            }
        }
        return out;
    }
}
