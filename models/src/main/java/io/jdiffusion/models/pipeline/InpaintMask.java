package io.jdiffusion.models.pipeline;

import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

/**
 * An inpainting mask as diffusers' StableDiffusionInpaintPipeline prepares it: binarised at full resolution
 * ({@code < 0.5} keeps the pixel, otherwise it is repainted), the init image with the repainted area set
 * to 0 in [-1, 1] (0.5 in [0, 1], mid-grey), and the mask at latent resolution by nearest-neighbour
 * downsampling ({@code F.interpolate(mask, size=(h, w))}, whose source pixel is {@code floor(dst * in / out)}).
 */
final class InpaintMask {
    private final float[] binary;
    private final int height;
    private final int width;

    /** @param mask [1, 1, H, W] in [0, 1], 1 = repaint, at the image's size */
    InpaintMask(Tensor mask, int width, int height) {
        Shape s = mask.shape();
        if (s.rank() != 4 || s.dim(0) != 1 || s.dim(1) != 1 || s.dim(2) != height || s.dim(3) != width) {
            throw new IllegalArgumentException("the mask must be [1, 1, " + height + ", " + width + "] like the image, got " + s);
        }
        this.width = width;
        this.height = height;
        this.binary = new float[width * height];
        for (int i = 0; i < binary.length; i++) {
            float v = mask.getFloat(i);
            if (!Float.isFinite(v)) {
                throw new IllegalArgumentException("the mask holds a non-finite value at pixel " + i);
            }
            binary[i] = v < 0.5f ? 0f : 1f;
        }
    }

    /** The init image [1, 3, H, W] in [0, 1] with the repainted pixels set to 0.5 (0 after the VAE's 2x - 1). */
    Tensor maskedImage(Tensor image) {
        Tensor out = Tensor.allocate(image.shape(), DType.F32);
        int plane = width * height;
        for (int c = 0; c < 3; c++) {
            for (int p = 0; p < plane; p++) {
                long i = (long) c * plane + p;
                out.setFloat(i, binary[p] < 0.5f ? image.getFloat(i) : 0.5f);
            }
        }
        return out;
    }

    /** The mask at latent resolution [h, w], nearest neighbour. */
    float[] latent(int latentHeight, int latentWidth) {
        float[] out = new float[latentHeight * latentWidth];
        for (int y = 0; y < latentHeight; y++) {
            int sy = (int) Math.floor(y * (double) height / latentHeight);
            for (int x = 0; x < latentWidth; x++) {
                int sx = (int) Math.floor(x * (double) width / latentWidth);
                out[y * latentWidth + x] = binary[sy * width + sx];
            }
        }
        return out;
    }
}
