package io.jdiffusion.models.pipeline;

import io.jdiffusion.core.io.AtomicFile;
import org.w3c.dom.Node;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageOutputStream;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;

/**
 * Writes PNG files whole or not at all, with text chunks such as A1111's {@code parameters} (see
 * {@link A1111Infotext}). Latin-1 text
 * goes into tEXt (what most readers expect); anything else into UTF-8 iTXt, as Pillow does.
 */
public final class PngWriter {
    private static final String FORMAT = "javax_imageio_png_1.0";

    private PngWriter() {
    }

    public static void write(Path target, BufferedImage image, Map<String, String> text) throws IOException {
        AtomicFile.write(target, out -> write(out, image, text));
    }

    /** The PNG file's bytes, e.g. for an HTTP response. */
    public static byte[] encode(BufferedImage image, Map<String, String> text) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try {
            write(bytes, image, text);
        } catch (IOException e) {
            throw new UncheckedIOException("PNG encoding into memory failed", e);
        }
        return bytes.toByteArray();
    }

    private static void write(OutputStream out, BufferedImage image, Map<String, String> text) throws IOException {
        ImageWriter writer = ImageIO.getImageWritersByFormatName("png").next();
        try {
            IIOMetadata metadata = writer.getDefaultImageMetadata(ImageTypeSpecifier.createFromRenderedImage(image), null);
            IIOMetadataNode root = (IIOMetadataNode) metadata.getAsTree(FORMAT);
            IIOMetadataNode tEXt = new IIOMetadataNode("tEXt");
            IIOMetadataNode iTXt = new IIOMetadataNode("iTXt");
            for (Map.Entry<String, String> e : text.entrySet()) {
                if (StandardCharsets.ISO_8859_1.newEncoder().canEncode(e.getValue())) {
                    IIOMetadataNode entry = new IIOMetadataNode("tEXtEntry");
                    entry.setAttribute("keyword", e.getKey());
                    entry.setAttribute("value", e.getValue());
                    tEXt.appendChild(entry);
                } else {
                    IIOMetadataNode entry = new IIOMetadataNode("iTXtEntry");
                    entry.setAttribute("keyword", e.getKey());
                    entry.setAttribute("compressionFlag", "FALSE");
                    entry.setAttribute("compressionMethod", "0");
                    entry.setAttribute("languageTag", "");
                    entry.setAttribute("translatedKeyword", "");
                    entry.setAttribute("text", e.getValue());
                    iTXt.appendChild(entry);
                }
            }
            append(root, tEXt);
            append(root, iTXt);
            metadata.mergeTree(FORMAT, root);
            try (ImageOutputStream ios = ImageIO.createImageOutputStream(out)) {
                writer.setOutput(ios);
                writer.write(null, new IIOImage(image, null, metadata), null);
                ios.flush();
            }
        } finally {
            writer.dispose();
        }
    }

    private static void append(IIOMetadataNode root, Node chunk) {
        if (chunk.hasChildNodes()) {
            root.appendChild(chunk);
        }
    }
}
