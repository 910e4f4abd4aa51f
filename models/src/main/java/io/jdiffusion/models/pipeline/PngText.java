package io.jdiffusion.models.pipeline;

import org.w3c.dom.NamedNodeMap;
import org.w3c.dom.Node;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/** Reads the text chunks (tEXt, zTXt, iTXt) of a PNG, such as the {@code parameters} that {@link PngWriter} writes. */
public final class PngText {
    private PngText() {
    }

    /** Every text chunk's keyword and text, in file order. */
    public static Map<String, String> read(Path png) throws IOException {
        Map<String, String> text = new LinkedHashMap<>();
        try (ImageInputStream in = ImageIO.createImageInputStream(png.toFile())) {
            if (in == null) {
                throw new IOException("cannot open " + png);
            }
            Iterator<ImageReader> readers = ImageIO.getImageReadersByFormatName("png");
            ImageReader reader = readers.next();
            try {
                reader.setInput(in);
                Node root = reader.getImageMetadata(0).getAsTree("javax_imageio_png_1.0");
                for (Node chunk = root.getFirstChild(); chunk != null; chunk = chunk.getNextSibling()) {
                    String valueAttribute = switch (chunk.getNodeName()) {
                        case "tEXt", "zTXt" -> "value";
                        case "iTXt" -> "text";
                        default -> null;
                    };
                    for (Node e = chunk.getFirstChild(); valueAttribute != null && e != null; e = e.getNextSibling()) {
                        NamedNodeMap attributes = e.getAttributes();
                        text.put(attributes.getNamedItem("keyword").getNodeValue(),
                                attributes.getNamedItem(valueAttribute).getNodeValue());
                    }
                }
            } finally {
                reader.dispose();
            }
        }
        return text;
    }
}
