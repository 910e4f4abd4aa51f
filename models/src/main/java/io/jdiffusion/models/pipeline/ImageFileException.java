package io.jdiffusion.models.pipeline;

/** An image file (init image or mask) that cannot be used; the message names the file and the problem in one line. */
public final class ImageFileException extends RuntimeException {
    private final String problem;
    private final boolean tooLarge;

    public ImageFileException(String source, String problem) {
        this(source, problem, null, false);
    }

    public ImageFileException(String source, String problem, Throwable cause) {
        this(source, problem, cause, false);
    }

    private ImageFileException(String source, String problem, Throwable cause, boolean tooLarge) {
        super(source + ": " + problem, cause);
        this.problem = problem;
        this.tooLarge = tooLarge;
    }

    /** An image whose header claims more pixels than the reader allows (a server answers 413 for it). */
    static ImageFileException tooLarge(String source, String problem) {
        return new ImageFileException(source, problem, null, true);
    }

    /** The problem without the file's name, for callers that name the source their own way (a request field). */
    public String problem() {
        return problem;
    }

    /** Whether the image was refused for its size alone, before any pixel was decoded. */
    public boolean tooLarge() {
        return tooLarge;
    }
}
