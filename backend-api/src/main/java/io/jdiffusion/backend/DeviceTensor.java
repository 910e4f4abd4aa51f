package io.jdiffusion.backend;

import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;

/**
 * A tensor living in a backend's memory. Its contents are reached only through
 * {@link Backend#upload} and {@link Backend#download}, so a GPU backend never copies behind the caller's back.
 *
 * <p>Its contents change only by an {@link Backend#upload} into it or as an output of an {@link Executable#run}.
 * A backend may rely on that to keep a copy of an input where its kernels read it and to skip copying it again
 * while the tensor was not written since: a caller that keeps one tensor for an input that does not change (the
 * prompt's embeddings across a denoising loop) saves that copy at every run.
 */
public interface DeviceTensor extends AutoCloseable {
    Shape shape();

    DType dtype();

    /** The backend that made it; a tensor can only be used with that backend. */
    String backendName();

    @Override
    void close();
}
