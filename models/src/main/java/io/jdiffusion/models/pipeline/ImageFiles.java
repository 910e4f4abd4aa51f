package io.jdiffusion.models.pipeline;

import io.jdiffusion.core.OneLine;
import io.jdiffusion.core.io.RegularFiles;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.ComponentColorModel;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Locale;
import java.util.Set;

/**
 * Reads init images and masks (PNG, JPEG, BMP, GIF) as diffusers does, with PIL's
 * {@code Image.open(f).convert("RGB")}: palette images through their palette, grey replicated to the three
 * channels, alpha dropped (not composited), 16-bit RGB(A) and grey+alpha samples cut to their high byte,
 * and 16-bit single-channel grey clipped to 255 (PIL's mode "I" to "RGB" conversion). The alpha of an image
 * PIL opens as mode "RGBA" is kept beside the colours, for callers that read masks by it (A1111's API does).
 * The header's pixel count is checked before any pixel is decoded, so a small file that claims
 * 100000 x 100000 pixels costs nothing.
 */
public final class ImageFiles {
    /** PIL's {@code Image.MAX_IMAGE_PIXELS}: larger images are refused before decoding. */
    public static final long MAX_PIXELS = 89_478_485L;
    private static final Set<String> FORMATS = Set.of("png", "jpeg", "bmp", "gif");

    private ImageFiles() {
    }

    /**
     * 8-bit RGB pixels, row by row, three bytes per pixel, and the alpha of an RGBA image (one byte per pixel;
     * null for images without it: RGB, grey, grey+alpha and palette images, as PIL's modes other than "RGBA").
     */
    public record Rgb(int width, int height, byte[] pixels, byte[] alpha) {
        /** Pixels without alpha. */
        public Rgb(int width, int height, byte[] pixels) {
            this(width, height, pixels, null);
        }

        /** The pixels as a {@link BufferedImage} of type {@code TYPE_INT_RGB}. */
        public BufferedImage toBufferedImage() {
            BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
            int[] row = new int[width];
            for (int y = 0; y < height; y++) {
                int p = y * width * 3;
                for (int x = 0; x < width; x++, p += 3) {
                    row[x] = (pixels[p] & 0xFF) << 16 | (pixels[p + 1] & 0xFF) << 8 | (pixels[p + 2] & 0xFF);
                }
                out.setRGB(0, y, width, 1, row, 0, width);
            }
            return out;
        }

        /** PIL's {@code convert("L")} of these pixels (ITU-R 601 luma in PIL's fixed point), one byte per pixel: a mask. */
        public byte[] luma() {
            byte[] l = new byte[width * height];
            for (int i = 0, p = 0; i < l.length; i++, p += 3) {
                l[i] = (byte) (((pixels[p] & 0xFF) * 19595 + (pixels[p + 1] & 0xFF) * 38470 + (pixels[p + 2] & 0xFF) * 7471
                        + 0x8000) >> 16);
            }
            return l;
        }
    }

    /** Reads {@code file}; {@code what} names its role in messages (e.g. "--init-image"). */
    public static Rgb read(Path file, String what) {
        String source = what + " " + file;
        String problem = RegularFiles.problem(file);
        if (problem != null) {
            throw new ImageFileException(source, problem);
        }
        try (InputStream in = Files.newInputStream(file)) {
            return decode(source, in, MAX_PIXELS);
        } catch (IOException e) {
            throw new ImageFileException(source, "cannot read: " + e.getMessage(), e);
        }
    }

    /** Decodes the bytes of an image file named {@code source} in messages, refusing more than {@code maxPixels}. */
    public static Rgb decode(String source, byte[] bytes, long maxPixels) {
        try {
            return decode(source, new ByteArrayInputStream(bytes), maxPixels);
        } catch (IOException e) {
            throw new ImageFileException(source, "cannot read: " + e.getMessage(), e);
        }
    }

    private static Rgb decode(String source, InputStream bytes, long maxPixels) throws IOException {
        try (ImageInputStream in = ImageIO.createImageInputStream(bytes)) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) {
                throw new ImageFileException(source, "is not an image jdiffusion reads (PNG, JPEG, BMP or GIF)");
            }
            ImageReader reader = readers.next();
            String format = reader.getFormatName().toLowerCase(Locale.ROOT);
            try {
                if (!FORMATS.contains(format)) {
                    throw new ImageFileException(source, "is a " + format + " image; jdiffusion reads PNG, JPEG, BMP and GIF");
                }
                reader.setInput(in, true, true);
                int width = reader.getWidth(0);
                int height = reader.getHeight(0);
                if (width <= 0 || height <= 0) {
                    throw new ImageFileException(source, "has no pixels (" + width + "x" + height + ")");
                }
                if ((long) width * height > maxPixels) {
                    throw ImageFileException.tooLarge(source, "its header claims " + width + "x" + height + " = "
                            + (long) width * height + " pixels, more than the limit of " + maxPixels);
                }
                BufferedImage image = reader.read(0);
                try {
                    return toRgb(image);
                } catch (IllegalArgumentException e) {
                    throw new ImageFileException(source, e.getMessage());
                }
            } catch (ImageFileException e) {
                throw e;
            } catch (IOException | RuntimeException e) {
                // the JDK's decoders report corrupt data with assorted exceptions (IIOException, index and
                // argument errors): all mean the same to the user
                throw new ImageFileException(source, "is not a valid " + format.toUpperCase(Locale.ROOT)
                        + " image (corrupt or truncated): " + describe(e), e);
            } finally {
                reader.dispose();
            }
        }
    }

    private static String describe(Throwable e) {
        String m = e.getMessage();
        return OneLine.of(m == null || m.isBlank() ? e.getClass().getSimpleName() : m);
    }

    /** The decoded image as PIL's convert("RGB") gives it, with an RGBA image's alpha. */
    static Rgb toRgb(BufferedImage image) {
        int w = image.getWidth();
        int h = image.getHeight();
        byte[] rgb = new byte[Math.multiplyExact(Math.multiplyExact(w, h), 3)];
        byte[] alpha = null;
        ColorModel cm = image.getColorModel();
        Raster raster = image.getRaster();
        if (cm instanceof IndexColorModel palette) {
            int[] index = new int[w];
            for (int y = 0; y < h; y++) {
                raster.getSamples(0, y, w, 1, 0, index);
                for (int x = 0, p = y * w * 3; x < w; x++, p += 3) {
                    int i = index[x];
                    rgb[p] = (byte) palette.getRed(i);
                    rgb[p + 1] = (byte) palette.getGreen(i);
                    rgb[p + 2] = (byte) palette.getBlue(i);
                }
            }
        } else if (cm instanceof ComponentColorModel) {
            int space = cm.getColorSpace().getType();
            if (space != ColorSpace.TYPE_RGB && space != ColorSpace.TYPE_GRAY || raster.getNumBands() > 4) {
                throw new IllegalArgumentException("its colour space (" + (space == ColorSpace.TYPE_CMYK ? "CMYK" : "type " + space)
                        + ") is not RGB or grey; save the image as RGB");
            }
            int bands = raster.getNumBands();
            boolean grey = bands <= 2;
            if (bands == 4 || bands == 2 && cm.getComponentSize(0) == 16) { // PIL opens 16-bit grey+alpha as RGBA
                alpha = new byte[w * h];
            }
            int bits = cm.getComponentSize(0);
            int[] samples = new int[w * bands];
            for (int y = 0; y < h; y++) {
                raster.getPixels(0, y, w, 1, samples);
                for (int x = 0, p = y * w * 3; x < w; x++, p += 3) {
                    int s = x * bands;
                    if (grey) {
                        byte v = (byte) toByte(samples[s], bits, bands == 1);
                        rgb[p] = v;
                        rgb[p + 1] = v;
                        rgb[p + 2] = v;
                        if (alpha != null) {
                            alpha[y * w + x] = (byte) toByte(samples[s + 1], bits, false);
                        }
                    } else {
                        rgb[p] = (byte) toByte(samples[s], bits, false);
                        rgb[p + 1] = (byte) toByte(samples[s + 1], bits, false);
                        rgb[p + 2] = (byte) toByte(samples[s + 2], bits, false);
                        if (alpha != null) {
                            alpha[y * w + x] = (byte) toByte(samples[s + 3], bits, false);
                        }
                    }
                }
            }
        } else {
            if (cm.hasAlpha()) { // packed ARGB, e.g. a 32-bit BMP with an alpha mask, which PIL opens as RGBA
                alpha = new byte[w * h];
            }
            int[] row = new int[w];
            for (int y = 0; y < h; y++) {
                image.getRGB(0, y, w, 1, row, 0, w);
                for (int x = 0, p = y * w * 3; x < w; x++, p += 3) {
                    rgb[p] = (byte) (row[x] >> 16);
                    rgb[p + 1] = (byte) (row[x] >> 8);
                    rgb[p + 2] = (byte) row[x];
                    if (alpha != null) {
                        alpha[y * w + x] = (byte) (row[x] >>> 24);
                    }
                }
            }
        }
        return new Rgb(w, h, rgb, alpha);
    }

    /**
     * One sample as PIL reads it into 8 bits: 16-bit samples keep their high byte, except single-channel grey,
     * which PIL holds as 32-bit integers and clips to 255 on conversion; 1, 2 and 4-bit grey is scaled to 0-255.
     */
    private static int toByte(int sample, int bits, boolean singleChannelGrey) {
        if (bits == 8) {
            return sample & 0xFF;
        }
        if (bits == 16) {
            return singleChannelGrey ? Math.min(sample, 255) : sample >>> 8;
        }
        if (bits < 8) {
            return sample * 255 / ((1 << bits) - 1);
        }
        return Math.min(255, sample >>> (bits - 8));
    }
}
