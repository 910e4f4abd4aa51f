package io.jdiffusion.server.api;

/**
 * What one request may ask for, so that a running job's memory and time stay bounded and a hostile body
 * cannot make the server allocate before it is checked.
 *
 * @param maxBodyBytes  largest request body read (larger: 413 before it is buffered)
 * @param maxImageBytes largest decoded input image file (base64 length checked before decoding)
 * @param maxPixels     largest width x height, for outputs and for input images (checked from the header)
 * @param maxImages     largest batch_size x n_iter (or OpenAI n)
 * @param maxSteps      most denoising steps
 */
public record RequestLimits(long maxBodyBytes, int maxImageBytes, long maxPixels, int maxImages, int maxSteps) {
    public static final RequestLimits DEFAULTS = new RequestLimits(48L << 20, 32 << 20, 2048L * 2048, 16, 500);

    public RequestLimits {
        if (maxBodyBytes < 1 || maxImageBytes < 1 || maxPixels < 1 || maxImages < 1 || maxSteps < 1) {
            throw new IllegalArgumentException("request limits must be positive");
        }
    }
}
