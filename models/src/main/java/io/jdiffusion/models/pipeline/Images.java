package io.jdiffusion.models.pipeline;

import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

import java.awt.RenderingHints;
import java.awt.image.BufferedImage;

/** Conversions between image tensors [1, 3, H, W] and pixels, with diffusers' value conventions. */
public final class Images {
    private Images() {
    }

    /** In place: raw VAE output x becomes clamp(x / 2 + 0.5, 0, 1), as the pipeline's postprocessing. */
    public static void toUnitRange(Tensor image) {
        long n = image.elementCount();
        for (long i = 0; i < n; i++) {
            float v = image.getFloat(i) / 2 + 0.5f;
            image.setFloat(i, Math.min(1f, Math.max(0f, v)));
        }
    }

    /** A new tensor 2x - 1: pixels in [0, 1] to the VAE encoder's [-1, 1]. */
    public static Tensor toSignedRange(Tensor image) {
        Tensor out = Tensor.allocate(image.shape(), DType.F32);
        long n = image.elementCount();
        for (long i = 0; i < n; i++) {
            out.setFloat(i, 2 * image.getFloat(i) - 1);
        }
        return out;
    }

    /** RGB pixels round(255 * v), as diffusers' numpy_to_pil. */
    public static BufferedImage toBufferedImage(Tensor image) {
        Shape s = image.shape();
        if (s.rank() != 4 || s.dim(0) != 1 || s.dim(1) != 3) {
            throw new IllegalArgumentException("expected an image [1, 3, H, W], got " + s);
        }
        int h = s.size(2);
        int w = s.size(3);
        long plane = (long) h * w;
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                long p = (long) y * w + x;
                int r = toByte(image.getFloat(p));
                int g = toByte(image.getFloat(plane + p));
                int b = toByte(image.getFloat(2L * plane + p));
                out.setRGB(x, y, (r << 16) | (g << 8) | b);
            }
        }
        return out;
    }

    /** Pixels to [1, 3, height, width] in [0, 1], resized with bicubic filtering when the size differs. */
    public static Tensor fromBufferedImage(BufferedImage source, int width, int height) {
        BufferedImage img = source;
        if (source.getWidth() != width || source.getHeight() != height || source.getType() != BufferedImage.TYPE_INT_RGB) {
            img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
            var g = img.createGraphics();
            g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BICUBIC);
            g.drawImage(source, 0, 0, width, height, null);
            g.dispose();
        }
        Tensor t = Tensor.allocate(Shape.of(1, 3, height, width), DType.F32);
        long plane = (long) width * height;
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int rgb = img.getRGB(x, y);
                long p = (long) y * width + x;
                t.setFloat(p, ((rgb >> 16) & 0xFF) / 255f);
                t.setFloat(plane + p, ((rgb >> 8) & 0xFF) / 255f);
                t.setFloat(2L * plane + p, (rgb & 0xFF) / 255f);
            }
        }
        return t;
    }

    private static int toByte(float v) {
        return Math.round(Math.min(1f, Math.max(0f, v)) * 255f);
    }
}
