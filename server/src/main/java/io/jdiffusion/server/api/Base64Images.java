package io.jdiffusion.server.api;

import io.jdiffusion.models.pipeline.ImageFileException;
import io.jdiffusion.models.pipeline.ImageFiles;

import java.util.Base64;

/**
 * Base64 images from requests, decoded with their cost checked first: the encoded length bounds the bytes
 * before any are allocated, and the image header's width and height bound the pixels before they are decoded
 * (a small PNG can claim a huge canvas). A {@code data:image/...;base64,} prefix is accepted, as A1111 does.
 * The bytes are read as the command line reads image files ({@link ImageFiles}: PIL's conversions, an RGBA
 * image's alpha kept for masks).
 */
public final class Base64Images {
    private Base64Images() {
    }

    public static ImageFiles.Rgb decode(String field, String encoded, RequestLimits limits) {
        String data = encoded;
        if (data.startsWith("data:")) {
            int comma = data.indexOf(',');
            if (comma < 0 || !data.substring(0, comma).endsWith(";base64")) {
                throw new InvalidRequestException(field, "a data URL must be base64 (data:image/png;base64,...)");
            }
            data = data.substring(comma + 1);
        }
        long decodedBound = (long) data.length() / 4 * 3 + 3;
        if (decodedBound > limits.maxImageBytes() + 3L) {
            throw new InvalidRequestException(413, field, "image of about " + decodedBound + " bytes exceeds the limit of "
                    + limits.maxImageBytes() + " bytes");
        }
        byte[] bytes;
        try {
            bytes = Base64.getMimeDecoder().decode(checkAlphabet(field, data));
        } catch (IllegalArgumentException e) {
            throw new InvalidRequestException(field, "not valid base64: " + e.getMessage());
        }
        if (bytes.length == 0) {
            throw new InvalidRequestException(field, "empty image");
        }
        try {
            return ImageFiles.decode(field, bytes, limits.maxPixels());
        } catch (ImageFileException e) {
            throw e.tooLarge() ? new InvalidRequestException(413, field, e.problem()) : new InvalidRequestException(field, e.problem());
        }
    }

    /** The MIME decoder would skip any character outside the alphabet; only whitespace may be skipped. */
    private static String checkAlphabet(String field, String data) {
        for (int i = 0; i < data.length(); i++) {
            char c = data.charAt(i);
            boolean allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                    || c == '+' || c == '/' || c == '=' || c == '\n' || c == '\r' || c == ' ' || c == '\t';
            if (!allowed) {
                throw new InvalidRequestException(field, "not valid base64: character " + (c < 128 && c >= 32 ? "'" + c + "'" : "U+" + Integer.toHexString(c))
                        + " at position " + i);
            }
        }
        return data;
    }
}
