package io.jdiffusion.models.pipeline;

/** An image file (init image or mask) that cannot be used; the message names the file and the problem in one line. */
public final class ImageFileException extends RuntimeException {
    public ImageFileException(String source, String problem) {
        super(source + ": " + problem);
    }

    public ImageFileException(String source, String problem, Throwable cause) {
        super(source + ": " + problem, cause);
    }
}
