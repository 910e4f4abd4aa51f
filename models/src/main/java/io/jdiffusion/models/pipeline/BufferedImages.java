package io.jdiffusion.models.pipeline;

import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

import java.awt.RenderingHints;
import java.awt.image.BufferedImage;

/**
 * Conversions between image tensors [1, 3, H, W] (masks [1, 1, H, W]) and AWT images, with diffusers' and PIL's
 * value conventions. Apart from {@link Images} so that a runtime without java.desktop can run the pipeline.
 */
public final class BufferedImages {
    private BufferedImages() {
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

    /**
     * An inpainting mask [1, 1, height, width] in [0, 1] (white = repaint) from any image, as PIL's
     * {@code convert("L")} reads it: grey images by their sample values (not through Java's colour
     * conversion, which would change them), colour images by the ITU-R 601-2 luma
     * {@code (19595 R + 38470 G + 7471 B + 2^15) >> 16}; alpha is ignored. Resized with bilinear filtering
     * when the size differs. The pipeline binarises it at 0.5.
     */
    public static Tensor maskFromBufferedImage(BufferedImage source, int width, int height) {
        int w = source.getWidth();
        int h = source.getHeight();
        float[] grey = new float[w * h];
        boolean singleBand = source.getRaster().getNumBands() == 1 && source.getColorModel().getPixelSize() <= 16;
        int maxSample = singleBand ? (1 << source.getColorModel().getComponentSize(0)) - 1 : 255;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                if (singleBand && !(source.getColorModel() instanceof java.awt.image.IndexColorModel)) {
                    grey[y * w + x] = source.getRaster().getSample(x, y, 0) / (float) maxSample;
                } else {
                    int rgb = source.getRGB(x, y);
                    int luma = (19595 * ((rgb >> 16) & 0xFF) + 38470 * ((rgb >> 8) & 0xFF) + 7471 * (rgb & 0xFF) + 0x8000) >> 16;
                    grey[y * w + x] = luma / 255f;
                }
            }
        }
        Tensor t = Tensor.allocate(Shape.of(1, 1, height, width), DType.F32);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                t.setFloat((long) y * width + x, w == width && h == height ? grey[y * w + x] : bilinear(grey, w, h, x, y, width, height));
            }
        }
        return t;
    }

    /** Bilinear sample of a w x h grey image at the centre of output pixel (x, y) of a width x height grid. */
    private static float bilinear(float[] grey, int w, int h, int x, int y, int width, int height) {
        double sx = Math.min(Math.max((x + 0.5) * w / width - 0.5, 0), w - 1);
        double sy = Math.min(Math.max((y + 0.5) * h / height - 0.5, 0), h - 1);
        int x0 = (int) sx;
        int y0 = (int) sy;
        int x1 = Math.min(x0 + 1, w - 1);
        int y1 = Math.min(y0 + 1, h - 1);
        double fx = sx - x0;
        double fy = sy - y0;
        double top = grey[y0 * w + x0] * (1 - fx) + grey[y0 * w + x1] * fx;
        double bottom = grey[y1 * w + x0] * (1 - fx) + grey[y1 * w + x1] * fx;
        return (float) (top * (1 - fy) + bottom * fy);
    }

    private static int toByte(float v) {
        return Math.round(Math.min(1f, Math.max(0f, v)) * 255f);
    }
}
